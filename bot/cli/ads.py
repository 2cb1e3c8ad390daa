"""`causette ads`: sponsored-reply campaigns and their reports."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import open_store, operator
from bot.config import Settings, load_settings

if TYPE_CHECKING:
    from bot.store import Store


async def _ads(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from bot.money.ads import Ads, CampaignFileError, money

    async with open_store(settings) as store:
        ads = Ads(settings, store)
        action = args.ads_command
        if action == "advertiser":
            return await _advertiser(args, store)
        if action == "add":
            try:
                ids = await ads.add_file(Path(args.file), actor=operator())
            except CampaignFileError as exc:
                print(f"causette: {exc}", file=sys.stderr)
                return 2
            print(f"added campaign(s) {', '.join(map(str, ids))}")
        elif action == "list":
            await store.end_finished_campaigns()
            campaigns = await store.campaigns()
            if not campaigns:
                print("no campaigns")
            for c in campaigns:
                print(f"{c.id:>4}  {c.status:<9}  {c.advertiser:<20}  cpm {money(c.cpm_micros)}  "
                      f"spent {money(c.spent_micros)}/{money(c.budget_micros)} "
                      f"{settings.currency}  {c.start_at[:10]} -> {c.end_at[:10]}  "
                      f"{', '.join(c.keywords + c.categories)}")
        elif action in ("pause", "resume"):
            change = ads.pause if action == "pause" else ads.resume
            if not await change(args.id, operator()):
                print(f"causette: campaign {args.id} cannot be {action}d (unknown, or not "
                      f"{'active' if action == 'pause' else 'paused'})", file=sys.stderr)
                return 2
            print(f"campaign {args.id} {action}d")
        elif action == "link":
            advertiser_id = None if args.advertiser == "none" else int(args.advertiser)
            if not await ads.link(args.id, advertiser_id, actor=operator()):
                print(f"causette: campaign {args.id} cannot be linked (unknown campaign or "
                      "advertiser, or a Discord server's own campaign, which belongs to that "
                      "server alone)", file=sys.stderr)
                return 2
            print(f"campaign {args.id} " + (f"now belongs to advertiser {advertiser_id}"
                                             if advertiser_id else "belongs to no advertiser"))
        elif action == "report":
            reports = await ads.report()
            if args.json:
                print(json.dumps({"currency": settings.currency,
                                  "campaigns": [r.as_dict() for r in reports]}))
                return 0
            for r in reports:
                c = r.campaign
                print(f"#{c.id} {c.advertiser} ({c.status}): {r.impressions} impressions, "
                      f"{r.clicks} clicks, CTR {r.ctr:.1%}, spent {money(c.spent_micros)} "
                      f"{settings.currency}, remaining "
                      f"{money(c.budget_micros - c.spent_micros)} {settings.currency}")
                for d in r.days:
                    print(f"    {d.day}  {d.impressions:>6} impressions  {d.clicks:>5} clicks  "
                          f"{money(d.spent_micros)} {settings.currency}")
        return 0


async def _advertiser(args: argparse.Namespace, store: Store) -> int:
    """`causette ads advertiser add|token|list`: accounts for the web console."""
    from bot.money import advertisers

    action = args.advertiser_command
    if action == "list":
        accounts = await store.advertisers()
        if not accounts:
            print("no advertisers")
        for a in accounts:
            owned = len(await store.advertiser_campaigns(a.id))
            print(f"{a.id:>4}  {a.name:<30}  {owned} campaign(s)  since {a.created_at[:10]}")
        return 0
    try:
        if action == "add":
            account, token = await advertisers.add_advertiser(store, args.name, actor=operator())
            print(f"advertiser {account.name} (id {account.id}); give it campaigns with "
                  f"`causette ads link CAMPAIGN {account.id}`")
        else:
            token = await advertisers.replace_token(store, args.name, actor=operator())
            print(f"new token for {args.name}; the old one and its sessions no longer work")
    except ValueError as exc:
        print(f"causette: {exc}", file=sys.stderr)
        return 2
    # Shown once: only its hash is kept.
    print(f"login token (shown only now): {token}")
    return 0


def _campaign_id(text: str) -> int:
    """A campaign id as the database can hold it (a 64-bit integer above 0)."""
    if not (text.isdigit() and 0 < int(text) < 2**63):
        raise argparse.ArgumentTypeError(f"{text!r} is not a campaign id")
    return int(text)


def _advertiser_id(text: str) -> str:
    """An advertiser account id, or "none" (argparse says what is wrong otherwise)."""
    if text != "none" and not (text.isdigit() and 0 < int(text) < 2**63):
        raise argparse.ArgumentTypeError(f"{text!r} is not an advertiser id (or none)")
    return text


def cmd_ads(args: argparse.Namespace) -> int:
    """Manage sponsored-reply campaigns and read their reports."""
    return asyncio.run(_ads(args, load_settings()))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette ads add|list|pause|resume|link|report|advertiser`."""
    ads = subs.add_parser("ads", help="sponsored replies: add, list, pause, resume, link, report")
    ads_subs = ads.add_subparsers(dest="ads_command", required=True)
    add = ads_subs.add_parser("add", help="add the campaigns of a TOML file")
    add.add_argument("file", help="a TOML file of [[campaign]] tables")
    ads_subs.add_parser("list", help="all campaigns")
    for verb in ("pause", "resume"):
        change = ads_subs.add_parser(verb, help=f"{verb} a campaign")
        change.add_argument("id", type=_campaign_id)
    link = ads_subs.add_parser(
        "link", help="give a campaign to an advertiser account (its web console shows it)")
    link.add_argument("id", type=_campaign_id, help="the campaign id")
    link.add_argument("advertiser", type=_advertiser_id,
                      help="the advertiser account's id (`ads advertiser list`), or none")
    report = ads_subs.add_parser("report", help="impressions, clicks, CTR, spend per day")
    report.add_argument("--json", action="store_true", help="one JSON object")
    advertiser = ads_subs.add_parser(
        "advertiser", help="advertiser accounts for the web console: add, token, list")
    advertiser_subs = advertiser.add_subparsers(dest="advertiser_command", required=True)
    add_advertiser = advertiser_subs.add_parser(
        "add", help="create an account and print its login token (shown once)")
    add_advertiser.add_argument("name", help="the advertiser name its campaigns carry")
    token = advertiser_subs.add_parser(
        "token", help="a new login token (the old one and its sessions stop working)")
    token.add_argument("name")
    advertiser_subs.add_parser("list", help="advertiser accounts")
    ads.set_defaults(func=cmd_ads)
