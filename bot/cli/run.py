"""The Discord commands: `causette run` and `causette sync`.

discord.py (through bot.discord_app) is imported inside the commands, only when they
talk to Discord, so that the other commands and `--help` start without it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bot.cli.chat import chat
from bot.cli.common import report, setup_logging
from bot.config import Settings, load_settings


async def with_console(settings: Settings, bot: Callable[[], Awaitable[int]]) -> int:
    """Run the bot; with WEB_WITH_RUN, the web console beside it on the same loop,
    listening before the bot starts and closed once it has stopped."""
    if not settings.web_with_run:
        return await bot()
    from bot.web.app import console_beside  # aiohttp-jinja2 only when the console runs

    async with console_beside(settings):
        print(f"web console on http://{settings.web_host}:{settings.web_port}/",
              file=sys.stderr)
        return await bot()


def cmd_run(args: argparse.Namespace) -> int:
    """Start the bot: Discord with a token, else the terminal chat (and the web console
    beside it with WEB_WITH_RUN)."""
    settings = load_settings()
    setup_logging(settings, chat=settings.discord_token is None)
    # A console that cannot start (no WEB_ADMIN_TOKEN, port taken) is a SettingsError:
    # one line from the CLI's dispatcher, like any other setting to fix.
    if settings.discord_token is not None:
        from bot.discord_app import DiscordStartError, run_discord

        try:
            return asyncio.run(with_console(settings, lambda: run_discord(settings)))
        except DiscordStartError as exc:  # one of the CLI's clear errors
            return report(exc)
    return asyncio.run(with_console(settings, lambda: chat(settings, args.user)))


def cmd_sync(args: argparse.Namespace) -> int:
    """Register the slash commands with Discord (one guild for development, or global)."""
    settings = load_settings()
    setup_logging(settings)
    if settings.discord_token is None:
        print("causette: set DISCORD_TOKEN (in .env or the environment) to sync commands.",
              file=sys.stderr)
        return 2
    from bot.discord_app import DiscordStartError, sync_commands

    guild = args.guild if args.guild is not None else settings.discord_dev_guild
    try:
        print(asyncio.run(sync_commands(settings, None if args.is_global else guild)))
    except DiscordStartError as exc:  # one of the CLI's clear errors
        return report(exc)
    return 0


def register_run(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette run`."""
    run = subs.add_parser("run", help="start the bot (Discord with DISCORD_TOKEN, else chat)")
    run.add_argument("--as", dest="user", default="me", help="terminal user name")
    run.set_defaults(func=cmd_run)


def register_sync(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette sync`."""
    sync = subs.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, help="sync to this server only (instant)")
    sync.add_argument("--global", dest="is_global", action="store_true",
                      help="sync globally even if DISCORD_DEV_GUILD is set")
    sync.set_defaults(func=cmd_sync)
