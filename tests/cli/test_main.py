"""`causette --help` and the parser: the command line starts without discord.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# Asks for every command's --help in one fresh interpreter, then lists the modules that
# must not have been loaded: discord.py is slow to import and only `run`/`sync` need it.
NO_DISCORD = textwrap.dedent("""
    import argparse, contextlib, io, sys
    from bot.cli.main import build_parser, main

    subs = next(a for a in build_parser()._actions
                if isinstance(a, argparse._SubParsersAction))
    for argv in [["--help"], *([name, "--help"] for name in subs.choices)]:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(argv)
    loaded = [m for m in sys.modules
              if m.split(".")[0] in ("discord", "cogs") or m == "bot.discord_app"]
    print(len(subs.choices), *loaded)
""")


def test_help_does_not_import_discord(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", NO_DISCORD], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    count, *loaded = done.stdout.split()
    assert int(count) >= 10  # run, whatsapp, sync, chat, premium, privacy, stats, ads, db, model
    assert loaded == []


def test_python_m_bot_help_lists_every_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: causette")
    for command in ("run", "whatsapp", "sync", "chat", "premium", "privacy", "stats", "ads",
                    "db", "model"):
        assert f"\n    {command} " in done.stdout
