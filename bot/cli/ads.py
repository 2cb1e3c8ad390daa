"""`causette ads`: sponsored-reply campaigns and their reports."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import open_store, operator
from bot.config import Settings, load_settings


async def _ads(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from bot.ads import Ads, CampaignFileError, money

    async with open_store(settings) as store:
        ads = Ads(settings, store)
        action = args.ads_command
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


def cmd_ads(args: argparse.Namespace) -> int:
    """Manage sponsored-reply campaigns and read their reports."""
    return asyncio.run(_ads(args, load_settings()))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette ads add|list|pause|resume|report`."""
    ads = subs.add_parser("ads", help="sponsored replies: add, list, pause, resume, report")
    ads_subs = ads.add_subparsers(dest="ads_command", required=True)
    add = ads_subs.add_parser("add", help="add the campaigns of a TOML file")
    add.add_argument("file", help="a TOML file of [[campaign]] tables")
    ads_subs.add_parser("list", help="all campaigns")
    for verb in ("pause", "resume"):
        change = ads_subs.add_parser(verb, help=f"{verb} a campaign")
        change.add_argument("id", type=int)
    report = ads_subs.add_parser("report", help="impressions, clicks, CTR, spend per day")
    report.add_argument("--json", action="store_true", help="one JSON object")
    ads.set_defaults(func=cmd_ads)
