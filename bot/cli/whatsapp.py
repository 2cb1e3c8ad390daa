"""`causette whatsapp`: the WhatsApp Cloud API webhook."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.common import setup_logging
from bot.config import load_settings


def cmd_whatsapp(args: argparse.Namespace) -> int:
    """Run the WhatsApp Cloud API webhook."""
    from bot.runtime import open_runtime
    from bot.whatsapp import missing_settings, serve

    settings = load_settings()
    setup_logging(settings)
    missing = missing_settings(settings)
    if missing:
        print(f"causette: set {', '.join(missing)} (in .env or the environment) to run the "
              "WhatsApp webhook; see README, 'On WhatsApp'.", file=sys.stderr)
        return 2

    async def main() -> int:
        async with open_runtime(settings) as runtime:
            return await serve(settings, runtime)

    return asyncio.run(main())


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette whatsapp`."""
    whatsapp = subs.add_parser("whatsapp", help="run the WhatsApp Cloud API webhook")
    whatsapp.set_defaults(func=cmd_whatsapp)
