"""The doctor's results: one typed line per check, and the limits the checks apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

DISCORD_API = "https://discord.com/api/v10"
NETWORK_TIMEOUT_S = 5.0

# Free disk beside the SQLite file: below these, a warning, then a failure.
DISK_WARN_BYTES = 1 << 30
DISK_FAIL_BYTES = 64 << 20

# Application flags (Discord's "Get Current Application"): the Message Content intent,
# on for a bot in under 100 servers, or approved for a verified one.
MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)

TOKEN_FIX = ("copy the bot token from the Discord Developer Portal (your application > "
             "Bot > Reset Token) into DISCORD_TOKEN")


class Status(StrEnum):
    """How a check ended. Only FAIL makes `causette doctor` exit non-zero."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not used with these settings (no Discord token, no WhatsApp, ...)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    summary: str  # what was found
    fix: str = ""  # what to do about it (a hint when the status is OK)
    setting: str | None = None  # the setting concerned, as written in .env

    def as_dict(self) -> dict[str, str | None]:
        """The JSON form (`causette doctor --json`)."""
        return {"name": self.name, "status": self.status.value, "summary": self.summary,
                "fix": self.fix, "setting": self.setting}


def failed(checks: Sequence[Check]) -> bool:
    """Whether any check failed (warnings do not count)."""
    return any(check.status is Status.FAIL for check in checks)
