"""`causette web`: the web console for operators and advertisers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.common import open_store, setup_logging
from bot.config import Settings, load_settings


async def _serve(settings: Settings) -> int:
    from bot.web.app import serve

    async with open_store(settings) as store:
        print(f"web console on http://{settings.web_host}:{settings.web_port}/ "
              "(Ctrl-C stops it)", file=sys.stderr)
        await serve(settings, store)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the web console on WEB_HOST:WEB_PORT."""
    settings = load_settings()
    if args.port:
        settings = settings.model_copy(update={"web_port": args.port})
    setup_logging(settings)
    if settings.web_admin_token is None:
        print("causette: set WEB_ADMIN_TOKEN (in .env or the environment) to run the web "
              "console; see README, 'Web console'.", file=sys.stderr)
        return 2
    return asyncio.run(_serve(settings))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette web [--port N]`."""
    web = subs.add_parser("web", help="the web console for operators and advertisers",
                          description="Serve the web console on WEB_HOST:WEB_PORT "
                                      "(127.0.0.1:8090 by default).")
    web.add_argument("--port", type=int, help="instead of WEB_PORT")
    web.set_defaults(func=cmd_web)
