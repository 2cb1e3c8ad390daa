"""`causette`: the command line. Each sub-command is a thin layer over the core."""

from __future__ import annotations

import argparse
import sys

from bot.cli import (
    ads,
    chat,
    db,
    doctor,
    knowledge,
    model,
    premium,
    privacy,
    run,
    stats,
    web,
    whatsapp,
)
from bot.cli.common import CLEAR_ERRORS, report


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="causette", description=__doc__)
    subs = parser.add_subparsers(dest="command", required=True)
    # In this order in `causette --help`.
    run.register_run(subs)
    whatsapp.register(subs)
    run.register_sync(subs)
    chat.register(subs)
    premium.register(subs)
    privacy.register(subs)
    knowledge.register(subs)
    stats.register(subs)
    ads.register(subs)
    web.register(subs)
    db.register(subs)
    model.register(subs)
    doctor.register(subs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `causette` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CLEAR_ERRORS as exc:
        return report(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
