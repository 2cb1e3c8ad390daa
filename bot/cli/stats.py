"""`causette stats`: figures for operators."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.cli.common import open_store
from bot.config import Settings, load_settings

# Failed messages listed one by one (all of them are counted).
FAILED_SHOWN = 20


async def _stats(settings: Settings, as_json: bool) -> int:
    import json

    async with open_store(settings) as store:
        figures = await store.stats(store.now().date().isoformat())
        # Each failed one, so that an operator can retry it by id.
        failed = await store.inbound_by_status("failed", limit=FAILED_SHOWN)
    if as_json:
        print(json.dumps({**figures, "whatsapp_failed_messages": [
            {"id": row.message_id, "received_at": row.received_at, "error": row.error}
            for row in failed if row.platform == "whatsapp"]}))
        return 0
    for key, value in figures.items():
        print(f"{key:<24} {value}")
    rows = [row for row in failed if row.platform == "whatsapp"]
    if rows:
        print("\nWhatsApp messages not answered (causette whatsapp retry ID... | --all):")
        for row in rows:
            print(f"  {row.message_id}  received {row.received_at}  {row.error}")
        more = int(str(figures.get("whatsapp_failed", 0))) - len(rows)
        if more > 0:
            print(f"  ... and {more} more")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Figures for operators: users, messages, answers, tokens, grants, ads, WhatsApp
    messages pending and failed (each failed one listed, to retry)."""
    return asyncio.run(_stats(load_settings(), args.json))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette stats`."""
    stats = subs.add_parser("stats", help="figures for operators")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)
