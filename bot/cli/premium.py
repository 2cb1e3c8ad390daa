"""`causette premium`: grant, revoke, list and show tiers; read the audit log."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.common import open_store, operator, parse_user_ref
from bot.config import Settings, load_settings


async def _premium(args: argparse.Namespace, settings: Settings) -> int:
    from bot.money.tiers import Subject, Tiers

    async with open_store(settings) as store:
        tiers = Tiers(settings, store)
        action = args.premium_command
        if action == "grant":
            try:
                grant = await tiers.grant("user", args.user, args.tier, by=operator(),
                                          days=args.days, reason=args.reason)
            except ValueError as exc:
                print(f"causette: {exc}", file=sys.stderr)
                return 2
            until = f" until {grant.expires_at}" if grant.expires_at else ""
            print(f"{args.user} is now on {grant.tier}{until}")
        elif action == "revoke":
            count = await tiers.revoke("user", args.user, by=operator(), reason=args.reason)
            print(f"revoked {count} grant(s) of {args.user}")
        elif action == "list":
            grants = await store.active_grants()
            if not grants:
                print("no active grants")
            for g in grants:
                until = g.expires_at or "no end"
                print(f"{g.subject_kind:<5}  {g.subject:<32}  {g.tier:<6}  until {until:<29}  "
                      f"by {g.granted_by}")
        elif action == "show":
            decision = await tiers.resolve(Subject(args.user))
            spec = decision.tier.spec
            used = await tiers.usage_today(args.user)
            print(f"{args.user}: {decision.tier.name} ({decision.source}"
                  f"{', ' + decision.detail if decision.detail else ''}"
                  f"{', until ' + decision.until if decision.until else ''})")
            print(f"today: {used}/{spec.messages_per_day} messages; resets "
                  f"{tiers.next_reset():%Y-%m-%d %H:%M} UTC")
            print(f"gives: {spec.max_reply_tokens} reply tokens, {spec.context_tokens} "
                  f"history tokens, priority {spec.priority}, ads {'on' if spec.ads else 'off'}, "
                  f"commands: {', '.join(spec.commands) or 'none'}")
        elif action == "audit":
            for entry in await store.audit_log(limit=args.limit):
                reason = f" ({entry.reason})" if entry.reason else ""
                print(f"{entry.at}  {entry.actor:<24}  {entry.action:<11}  {entry.subject}: "
                      f"{entry.detail}{reason}")
        return 0


def cmd_premium(args: argparse.Namespace) -> int:
    """Grant, revoke, list and show tiers; read the audit log."""
    settings = load_settings()
    return asyncio.run(_premium(args, settings))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette premium grant|revoke|list|show|audit`."""
    premium = subs.add_parser("premium", help="tiers: grant, revoke, list, show, audit")
    premium_subs = premium.add_subparsers(dest="premium_command", required=True)
    grant = premium_subs.add_parser("grant", help="give a user a tier")
    grant.add_argument("user", type=parse_user_ref, help="discord:<id>, whatsapp:<phone>, "
                       "local:<name>")
    grant.add_argument("tier", help="a tier name, e.g. plus or pro")
    grant.add_argument("--days", type=int, help="expires after N days (default: never)")
    grant.add_argument("--reason", default="", help="why, for the audit log")
    revoke = premium_subs.add_parser("revoke", help="remove a user's grant")
    revoke.add_argument("user", type=parse_user_ref)
    revoke.add_argument("--reason", default="")
    premium_subs.add_parser("list", help="active grants")
    show = premium_subs.add_parser("show", help="a user's tier, why, and usage today")
    show.add_argument("user", type=parse_user_ref)
    audit = premium_subs.add_parser("audit", help="who changed what, when and why")
    audit.add_argument("--limit", type=int, default=50)
    premium.set_defaults(func=cmd_premium)
