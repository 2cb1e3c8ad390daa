"""`causette knowledge add|list|remove`: the documents answers draw on, for a space the
operator names (WhatsApp's "whatsapp", the terminal's "local", or a Discord server as
"discord:<guild id>")."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot.cli.common import open_store
from bot.config import Settings, load_settings


async def _knowledge(args: argparse.Namespace, settings: Settings) -> int:
    from bot.knowledge import Knowledge

    async with open_store(settings) as store:
        library = Knowledge(settings, store)
        if args.knowledge_command == "add":
            path = Path(args.file)
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except OSError as exc:
                print(f"causette: cannot read {path}: {exc.strerror or exc}")
                return 1
            said = await library.add(args.space, path.name, data, "operator")
            print(said)
            return 0 if said.startswith("Added") else 1
        if args.knowledge_command == "list":
            print(await library.listing(args.space))
            return 0
        said = await library.remove(args.space, args.number)
        print(said)
        return 0 if said.startswith("Removed") else 1


def cmd_knowledge(args: argparse.Namespace) -> int:
    """Add, list or remove a space's documents."""
    return asyncio.run(_knowledge(args, load_settings()))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette knowledge add|list|remove`."""
    knowledge = subs.add_parser("knowledge", help="documents answers draw on (per space)")
    knowledge_subs = knowledge.add_subparsers(dest="knowledge_command", required=True)
    add = knowledge_subs.add_parser("add", help="index a .txt, .md or .pdf file")
    add.add_argument("file")
    listed = knowledge_subs.add_parser("list", help="the space's documents, numbered")
    remove = knowledge_subs.add_parser("remove", help="remove document N of the list")
    remove.add_argument("number", type=int)
    for sub in (add, listed, remove):
        sub.add_argument("--space", default="whatsapp",
                         help="whatsapp (default), local (the terminal) or discord:<guild>")
    knowledge.set_defaults(func=cmd_knowledge)
