"""`causette privacy`: export or delete everything stored about a user."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import open_store, parse_user_ref
from bot.config import Settings, load_settings


async def _privacy(args: argparse.Namespace, settings: Settings) -> int:
    from bot.pipeline.privacy import Privacy

    async with open_store(settings) as store:
        privacy = Privacy(settings, store)
        if args.privacy_command == "export":
            data = await privacy.export(args.user)
            if args.out:
                await asyncio.to_thread(Path(args.out).write_bytes, data)
                print(f"wrote {len(data):,} bytes to {args.out}")
            else:
                sys.stdout.write(data.decode("utf-8") + "\n")
        else:
            if not args.yes:
                print("causette: this deletes everything stored about "
                      f"{args.user}; add --yes to confirm.", file=sys.stderr)
                return 2
            counts = await privacy.forget(args.user)
            print(f"forgot {args.user}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return 0


def cmd_privacy(args: argparse.Namespace) -> int:
    """Export or delete everything stored about a user."""
    return asyncio.run(_privacy(args, load_settings()))


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette privacy export|forget`."""
    privacy = subs.add_parser("privacy", help="export or delete a user's data")
    privacy_subs = privacy.add_subparsers(dest="privacy_command", required=True)
    export = privacy_subs.add_parser("export", help="everything stored about USER, as JSON")
    export.add_argument("user", type=parse_user_ref)
    export.add_argument("--out", help="write to this file instead of stdout")
    forget = privacy_subs.add_parser("forget", help="delete everything about USER")
    forget.add_argument("user", type=parse_user_ref)
    forget.add_argument("--yes", action="store_true", help="confirm the deletion")
    privacy.set_defaults(func=cmd_privacy)
