"""`causette whatsapp`: the WhatsApp Cloud API webhook; `causette whatsapp retry`: answer
again the messages whose answer could not be delivered."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.common import setup_logging
from bot.config import Settings, load_settings


def cmd_whatsapp(args: argparse.Namespace) -> int:
    """Run the WhatsApp Cloud API webhook, or retry failed answers."""
    from bot.pipeline.runtime import open_runtime
    from bot.whatsapp import missing_settings, serve

    settings = load_settings()
    setup_logging(settings)
    retrying = args.whatsapp_command == "retry"
    missing = missing_settings(settings, sending_only=retrying)
    if missing:
        print(f"causette: set {', '.join(missing)} (in .env or the environment) to "
              f"{'send WhatsApp answers' if retrying else 'run the WhatsApp webhook'}; "
              "see README, 'On WhatsApp'.", file=sys.stderr)
        return 2
    if retrying:
        if bool(args.ids) == args.all:
            print("causette: name the message ids to retry, or --all (`causette stats` "
                  "lists the failed ones).", file=sys.stderr)
            return 2
        return asyncio.run(_retry(settings, None if args.all else args.ids))

    async def main() -> int:
        async with open_runtime(settings) as runtime:
            return await serve(settings, runtime)

    return asyncio.run(main())


async def _retry(settings: Settings, ids: list[str] | None) -> int:
    import aiohttp

    from bot.pipeline.runtime import open_runtime
    from bot.whatsapp import PLATFORM, WhatsAppBot

    # A running bot may serve the metrics port already; this short command needs none.
    settings = settings.model_copy(update={"metrics_port": 0})
    async with open_runtime(settings) as runtime, aiohttp.ClientSession() as session:
        unknown: list[str] = []
        for message_id in ids or []:
            row = await runtime.store.inbound_message(PLATFORM, message_id)
            if row is None or row.status != "failed":
                state = f"it is {row.status}" if row else "no such message"
                unknown.append(f"{message_id} ({state})")
        if unknown:
            print(f"causette: not failed WhatsApp messages: {', '.join(unknown)}; "
                  "`causette stats` lists the failed ones.", file=sys.stderr)
            return 2
        bot = WhatsAppBot(settings, runtime, session)
        # Leases renewed while answering (a long answer outlives one), no pick-up: the
        # webhook picks up its own pending messages.
        await bot.start(pickup=False)
        try:
            results = await bot.retry(ids)
        finally:
            await bot.close()
    if not results:
        print("no failed WhatsApp message to retry")
        return 0
    for message_id, outcome in results.items():
        print(f"{message_id}: {outcome}")
    answered = sum(outcome == "answered" for outcome in results.values())
    print(f"{answered} of {len(results)} answered")
    return 0 if answered == len(results) else 1


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette whatsapp [retry ID...|--all]`."""
    whatsapp = subs.add_parser(
        "whatsapp", help="run the WhatsApp Cloud API webhook (retry: answer failed messages)",
        description="Without a sub-command: run the WhatsApp Cloud API webhook.")
    whatsapp.set_defaults(func=cmd_whatsapp, whatsapp_command=None)
    actions = whatsapp.add_subparsers(dest="whatsapp_command")
    retry = actions.add_parser(
        "retry", help="answer again messages whose answer could not be delivered",
        description="Answer again failed WhatsApp messages (`causette stats` counts and "
                    "lists them): the stored answer is sent, or composed first if there "
                    "is none. Exits 1 when some failed again.")
    retry.add_argument("ids", nargs="*", metavar="ID", help="WhatsApp message ids (wamid....)")
    retry.add_argument("--all", action="store_true", help="every failed message")
