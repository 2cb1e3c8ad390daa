"""`causette stats`: figures for operators."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.cli.common import open_store
from bot.config import Settings, load_settings


async def _stats(settings: Settings, as_json: bool) -> int:
    import json

    async with open_store(settings) as store:
        figures = await store.stats(store.now().date().isoformat())
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:<24} {value}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Figures for operators: users, messages, answers, tokens, grants, ads."""
    return asyncio.run(_stats(load_settings(), args.json))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette stats`."""
    stats = subs.add_parser("stats", help="figures for operators")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)
