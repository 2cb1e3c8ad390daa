"""Reminders (issue 29): what a user asked to be reminded of, when, and where; each
user's time zone.

A reminder is delivered once, decided by the database as WhatsApp deliveries are
(inbound.py): a process claims due rows in one transaction under a lock, setting
`owner` and a lease; it marks each one delivered when the platform accepted it. A
process that dies holding a claim loses it when the lease runs out, and the next claim,
in any process, takes it: a reminder is never delivered by two processes, and never
lost by a crash (only one killed after sending and before marking could send it twice).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from bot.store.base import Queries, iso
from bot.store.common import StoreBase, storable

ReminderStatus = Literal["pending", "delivering", "delivered", "cancelled", "failed"]
_COLUMNS = ("id, user_id, platform, target, text, due_at, timezone, locale, status, "
            "attempts, created_at")


@dataclass(frozen=True)
class Reminder:
    """One reminder, as stored."""

    id: int
    user_id: int
    platform: str
    target: str  # where it is delivered: "dm:<user>", "channel:<id>", "local", ...
    text: str
    due_at: str  # UTC ISO 8601
    timezone: str  # the user's zone when it was set, to show times in
    locale: str
    status: ReminderStatus
    attempts: int
    created_at: str


def _reminder(row: dict[str, object]) -> Reminder:
    return Reminder(int(str(row["id"])), int(str(row["user_id"])), str(row["platform"]),
                    str(row["target"]), str(row["text"]), str(row["due_at"]),
                    str(row["timezone"]), str(row["locale"]),
                    row["status"], int(str(row["attempts"])),  # type: ignore[arg-type]
                    str(row["created_at"]))


class RemindersMixin(StoreBase):
    """Reminders per user; claims of due ones; time zones."""

    async def add_reminder(self, user_id: int, platform: str, target: str, text: str,
                           due_at: datetime, timezone: str, locale: str,
                           limit: int) -> Reminder | None:
        """Store a reminder unless the user has `limit` pending ones already (None)."""
        async with self._transaction() as db:
            await db.lock(f"reminders:{user_id}")
            row = await db.fetchrow(
                "SELECT COUNT(*) FROM reminders WHERE user_id = ? AND status IN "
                "('pending', 'delivering')", (user_id,))
            if row is not None and int(row[0]) >= limit:
                return None
            now = self._now()
            reminder_id = await self._insert(
                db, "INSERT INTO reminders (user_id, platform, target, text, due_at, timezone, "
                "locale, status, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                "'pending', 0, ?)",
                (user_id, platform, target, storable(text), iso(due_at), timezone, locale, now))
        return Reminder(reminder_id, user_id, platform, target, text, iso(due_at), timezone,
                        locale, "pending", 0, now)

    async def reminders(self, user_id: int) -> list[Reminder]:
        """The user's reminders still to come, soonest first (the numbering users see)."""
        rows = await self._db.rows(
            f"SELECT {_COLUMNS} FROM reminders WHERE user_id = ? AND status IN "
            "('pending', 'delivering') ORDER BY due_at, id", (user_id,))
        return [_reminder(r) for r in rows]

    async def cancel_reminder(self, user_id: int, reminder_id: int) -> bool:
        """Cancel one of the user's reminders still to come (never someone else's)."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE reminders SET status = 'cancelled', owner = NULL WHERE id = ? AND "
                "user_id = ? AND status = 'pending'", (reminder_id, user_id)) > 0

    async def claim_due_reminders(self, platform: str, owner: str, lease: timedelta,
                                  limit: int = 20, user_id: int | None = None
                                  ) -> list[Reminder]:
        """Take the due reminders of `platform` (of one user, for the terminal) that
        nobody holds, or whose holder's lease ran out: they are this owner's to deliver
        until `lease` has passed."""
        now = self.now()
        mine, params = ("", ()) if user_id is None else (" AND user_id = ?", (user_id,))
        async with self._transaction() as db:
            await db.lock("reminders:claim")
            rows = await db.rows(
                f"SELECT {_COLUMNS} FROM reminders WHERE platform = ?{mine} AND due_at <= ? "
                "AND (status = 'pending' OR (status = 'delivering' AND lease_until < ?)) "
                "ORDER BY due_at, id LIMIT ?", (platform, *params, iso(now), iso(now), limit))
            for row in rows:
                await db.execute(
                    "UPDATE reminders SET status = 'delivering', owner = ?, lease_until = ?, "
                    "attempts = attempts + 1 WHERE id = ?",
                    (owner, iso(now + lease), row["id"]))
        # As the rows now are: held, and this delivery counted.
        return [replace(_reminder(r), status="delivering", attempts=int(r["attempts"]) + 1)
                for r in rows]

    async def reminder_delivered(self, reminder_id: int, owner: str) -> bool:
        """Mark a claimed reminder delivered; False when this owner no longer held it."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE reminders SET status = 'delivered', delivered_at = ?, owner = NULL, "
                "lease_until = NULL WHERE id = ? AND owner = ? AND status = 'delivering'",
                (self._now(), reminder_id, owner)) > 0

    async def reminder_failed(self, reminder_id: int, owner: str, give_up: bool) -> None:
        """A delivery failed: back to pending for a later try, or failed for good."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE reminders SET status = ?, owner = NULL, lease_until = NULL "
                "WHERE id = ? AND owner = ?",
                ("failed" if give_up else "pending", reminder_id, owner))

    async def next_reminder_due(self, platform: str) -> datetime | None:
        """When the soonest reminder of `platform` still to deliver is due."""
        row = await self._db.fetchrow(
            "SELECT MIN(due_at) FROM reminders WHERE platform = ? AND status IN "
            "('pending', 'delivering')", (platform,))
        return datetime.fromisoformat(str(row[0])) if row and row[0] is not None else None

    async def timezone(self, user_id: int) -> str | None:
        """The time zone the user chose (/timezone), if they chose one."""
        row = await self._db.fetchrow(
            "SELECT timezone FROM user_timezones WHERE user_id = ?", (user_id,))
        return str(row[0]) if row else None

    async def set_timezone(self, user_id: int, timezone: str) -> None:
        """Keep the user's time zone (an IANA name the caller checked)."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO user_timezones (user_id, timezone, set_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET timezone = excluded.timezone, "
                "set_at = excluded.set_at", (user_id, timezone, self._now()))

    # For privacy (export, forget) --------------------------------------------------

    async def _export_reminders(self, user_id: int) -> dict[str, object]:
        return {
            "reminders": await self._db.rows(
                "SELECT text, due_at, timezone, platform, status, created_at, delivered_at "
                "FROM reminders WHERE user_id = ? ORDER BY id", (user_id,)),
            "timezone": await self.timezone(user_id),
        }

    async def _forget_reminders(self, db: Queries, user_id: int) -> int:
        await db.execute("DELETE FROM user_timezones WHERE user_id = ?", (user_id,))
        return await db.execute("DELETE FROM reminders WHERE user_id = ?", (user_id,))
