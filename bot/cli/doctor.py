"""`causette doctor`: check everything a start needs; one line per check, with what to
fix. The checks are in `bot/doctor/`; this module only prints them."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.doctor import Check

MARKS = {"ok": "ok", "warn": "warn", "fail": "FAIL", "skip": "--"}


def line(check: Check) -> str:
    """`FAIL  model          <what was found> -> fix: <what to do>`."""
    text = f"{MARKS[check.status.value]:<5} {check.name:<15} {check.summary}"
    if check.fix and check.fix not in check.summary:
        text += f" -> {'fix' if check.status.value in ('warn', 'fail') else 'hint'}: {check.fix}"
    return text


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run the checks; exit 1 when one failed (warnings do not count)."""
    # Imported here so that `causette --help` does not load aiohttp, ctypes, the store.
    from bot.doctor import Status, diagnose, failed

    checks = asyncio.run(diagnose(wait_s=args.timeout))
    bad = failed(checks)
    if args.json:
        print(json.dumps({"ok": not bad, "checks": [c.as_dict() for c in checks]}, indent=2))
        return 1 if bad else 0
    for check in checks:
        print(line(check))
    counts = {s: sum(c.status is s for c in checks) for s in Status}
    print(f"\n{counts[Status.FAIL]} failed, {counts[Status.WARN]} warning(s), "
          f"{counts[Status.OK]} ok, {counts[Status.SKIP]} not used"
          + (": fix the failed checks above, then start again." if bad else "."))
    return 1 if bad else 0


def register(subs: argparse._SubParsersAction[Any]) -> None:
    """`causette doctor [--json] [--timeout S]`."""
    doctor = subs.add_parser("doctor", help="check the setup: model, database, backend, "
                                            "Discord, WhatsApp, ports")
    doctor.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    doctor.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="seconds to wait for each network answer (default 5)")
    doctor.set_defaults(func=cmd_doctor)
