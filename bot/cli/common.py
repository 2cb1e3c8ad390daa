"""What several sub-commands share: the errors shown as one line, logging, user
references, and the database for one operator command.

Nothing here imports discord.py: every `causette ...` loads this module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.config import Settings, SettingsError
from bot.engine import EngineError, ModelFileError
from bot.store import StoreError
from bot.user_refs import normalize_user_ref

if TYPE_CHECKING:
    from bot.store import Store

# Errors that mean "the operator must fix something": one line, no traceback.
# DiscordStartError is one too, but importing it loads discord.py, so the Discord
# commands (bot.cli.run) turn it into the same line themselves.
CLEAR_ERRORS = (SettingsError, ModelFileError, StoreError, EngineError)


def report(exc: BaseException) -> int:
    """Show a clear error as one line on stderr; the exit status of such errors."""
    print(f"causette: {exc}", file=sys.stderr)
    return 2


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {"time": self.formatTime(record), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(settings: Settings, *, chat: bool = False) -> None:
    """Logs to stderr; in the terminal chat only warnings, unless LOG_LEVEL=DEBUG, so
    they do not interleave with the conversation."""
    level = settings.log_level
    if chat and level != "DEBUG":
        level = "WARNING" if level == "INFO" else level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def parse_user_ref(value: str) -> str:
    """A CLI user (discord:<id>, whatsapp:<phone>, local:<name>), as the surfaces store
    it: `whatsapp:+33 6 12 34 56 78` is the user `whatsapp:33612345678`."""
    try:
        return normalize_user_ref(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The database, for one operator command."""
    from bot.store import Store

    store = await Store.from_settings(settings)
    try:
        yield store
    finally:
        await store.close()


def operator() -> str:
    """Who ran the command, for the audit log: operator:<login name>."""
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"
