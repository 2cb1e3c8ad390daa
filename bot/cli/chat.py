"""`causette chat`: the terminal chat (also what `causette run` starts without a token)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.cli.common import setup_logging
from bot.config import Settings, load_settings


async def chat(settings: Settings, user: str) -> int:
    """Chat with the assistant as local:USER until the terminal closes."""
    from bot.console import run_chat
    from bot.pipeline.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        return await run_chat(runtime.assistant, user)


def cmd_chat(args: argparse.Namespace) -> int:
    """Chat in the terminal as local:USER."""
    settings = load_settings()
    setup_logging(settings, chat=True)
    return asyncio.run(chat(settings, args.user))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette chat`."""
    chat = subs.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--as", dest="user", default="me",
                      help="chat as local:USER (default: me)")
    chat.set_defaults(func=cmd_chat)
