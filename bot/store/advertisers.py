"""Advertisers (the web console's accounts for campaign owners) and campaign edits."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.store.ads import Campaign
from bot.store.common import StoreBase, storable


@dataclass(frozen=True)
class Advertiser:
    """An advertiser account: it owns the campaigns the operator linked to it by id."""

    id: int
    name: str
    created_by: str
    created_at: str


class AdvertisersMixin(StoreBase):
    """Advertiser accounts, their login token's hash, and what they own."""

    _ADVERTISER_COLUMNS = "id, name, created_by, created_at"

    async def add_advertiser(self, name: str, token_hash: str, *, actor: str) -> Advertiser:
        """Create an account. It owns nothing until the operator links campaigns to it
        (`link_campaign`): a name is what anyone can type, so it never links anything."""
        async with self._transaction() as db:
            advertiser_id = await self._insert(
                db, "INSERT INTO advertisers (name, token_hash, created_by, created_at) "
                "VALUES (?, ?, ?, ?)", (storable(name), token_hash, actor, self._now()))
            await self._audit(db, actor, "advertiser add", f"advertiser {advertiser_id}",
                              name, "")
        advertiser = await self.advertiser(advertiser_id)
        assert advertiser is not None
        return advertiser

    async def replace_advertiser_token(self, advertiser_id: int, token_hash: str, *,
                                       actor: str) -> bool:
        """A new login token; the old one and every session opened with it stop working."""
        async with self._transaction() as db:
            count = await db.execute("UPDATE advertisers SET token_hash = ? WHERE id = ?",
                                     (token_hash, advertiser_id))
            if count:
                await db.execute(
                    "UPDATE web_sessions SET revoked_at = ? WHERE advertiser_id = ? "
                    "AND revoked_at IS NULL", (self._now(), advertiser_id))
                await self._audit(db, actor, "advertiser token", f"advertiser {advertiser_id}",
                                  "new token; sessions revoked", "")
            return count == 1

    async def advertisers(self) -> list[Advertiser]:
        """Every advertiser account, by name."""
        rows = await self._db.fetch(
            f"SELECT {self._ADVERTISER_COLUMNS} FROM advertisers ORDER BY name")
        return [Advertiser(*row) for row in rows]

    async def advertiser(self, advertiser_id: int) -> Advertiser | None:
        """One account by id."""
        row = await self._db.fetchrow(
            f"SELECT {self._ADVERTISER_COLUMNS} FROM advertisers WHERE id = ?", (advertiser_id,))
        return Advertiser(*row) if row else None

    async def advertiser_by_name(self, name: str) -> Advertiser | None:
        """One account by name."""
        row = await self._db.fetchrow(
            f"SELECT {self._ADVERTISER_COLUMNS} FROM advertisers WHERE name = ?", (name,))
        return Advertiser(*row) if row else None

    async def advertiser_by_token_hash(self, token_hash: str) -> Advertiser | None:
        """The account whose login token hashes to `token_hash`."""
        row = await self._db.fetchrow(
            f"SELECT {self._ADVERTISER_COLUMNS} FROM advertisers WHERE token_hash = ?",
            (token_hash,))
        return Advertiser(*row) if row else None

    async def update_campaign(self, campaign_id: int, *, headline: str, body: str, url: str,
                              keywords: list[str], categories: list[str],
                              languages: list[str], cpm_micros: int, budget_micros: int,
                              daily_budget_micros: int | None, start_at: str, end_at: str,
                              actor: str) -> bool:
        """Change a campaign's terms, audited. Its owner and spend stay; False when it is
        unknown, ended or exhausted, or the new budget is below what it already spent."""
        async with self._transaction() as db:
            await db.lock(f"campaign {campaign_id}")  # the same lock as a charge
            count = await db.execute(
                "UPDATE campaigns SET headline = ?, body = ?, url = ?, keywords = ?, "
                "categories = ?, languages = ?, cpm_micros = ?, budget_micros = ?, "
                "daily_budget_micros = ?, start_at = ?, end_at = ? "
                "WHERE id = ? AND status IN ('draft', 'active', 'paused') "
                "AND spent_micros <= ?",
                (storable(headline), storable(body), storable(url), json.dumps(keywords),
                 json.dumps(categories), json.dumps(languages), cpm_micros, budget_micros,
                 daily_budget_micros, start_at, end_at, campaign_id, budget_micros))
            if count:
                await self._audit(db, actor, "campaign edit", f"campaign {campaign_id}",
                                  f"budget {budget_micros / 1e6:.2f}", "")
            return count == 1

    async def advertiser_campaigns(self, advertiser_id: int) -> list[Campaign]:
        """The campaigns of one advertiser account, oldest first (never a server's own,
        even one linked by name before links were the operator's alone)."""
        from bot.store.ads import AdsMixin

        rows = await self._db.fetch(
            f"SELECT {AdsMixin._CAMPAIGN_COLUMNS} FROM campaigns WHERE advertiser_id = ? "
            "AND guild_id IS NULL ORDER BY id", (advertiser_id,))
        return [AdsMixin._campaign(row) for row in rows]
