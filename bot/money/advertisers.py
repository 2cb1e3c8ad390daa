"""Advertiser accounts: who may read and change which campaigns, and their login tokens.

One place for the rules that `causette ads advertiser ...` and the web console share:
a token is random, shown once and stored only as its SHA-256 (a 256-bit random token
needs no slow hash: there is nothing to guess from its digest); an advertiser owns the
campaigns the operator linked to its account by id (`causette ads link`, the console),
never a campaign by its name, and never a Discord server's own campaign.
"""

from __future__ import annotations

import hashlib
import secrets

from bot.store import Advertiser, Campaign, Store

# Recognisable in a password manager or a leaked log line.
TOKEN_PREFIX = "cadv_"


def hash_token(token: str) -> str:
    """What the database keeps of a login token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh advertiser login token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    """An advertiser name as campaigns carry it (the campaign spec's own limits)."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= 60:
        raise ValueError("an advertiser name is 1 to 60 characters")
    return cleaned


async def add_advertiser(store: Store, name: str, *, actor: str) -> tuple[Advertiser, str]:
    """Create an account; returns it and its token, which is never shown again."""
    name = check_name(name)
    if await store.advertiser_by_name(name) is not None:
        raise ValueError(f"advertiser {name!r} exists already (`causette ads advertiser "
                         "token NAME` gives it a new token)")
    token = new_token()
    return await store.add_advertiser(name, hash_token(token), actor=actor), token


async def replace_token(store: Store, name: str, *, actor: str) -> str:
    """A new token for an advertiser; the old one and its sessions stop working."""
    advertiser = await store.advertiser_by_name(name)
    if advertiser is None:
        raise ValueError(f"no advertiser called {name!r}")
    token = new_token()
    await store.replace_advertiser_token(advertiser.id, hash_token(token), actor=actor)
    return token


async def login(store: Store, token: str) -> Advertiser | None:
    """The advertiser this token opens, if any."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await store.advertiser_by_token_hash(hash_token(token))


def owns(advertiser: Advertiser, campaign: Campaign | None) -> bool:
    """Whether the advertiser may see and change this campaign."""
    return (campaign is not None and campaign.guild_id is None
            and campaign.advertiser_id == advertiser.id)
