"""What every domain of the store builds on: `StoreBase`, the driver, the clock and the
helpers that the domains' statements share (transactions, inserts, the audit log).

Each domain (conversations, guilds, tiers, ads, inbound, privacy) is a mixin on
StoreBase in its own module; `bot.store.core.Store` puts them together with the
lifecycle (open, migrate, close), so callers still hold one Store object.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from bot.store.base import Driver, Queries, iso


def storable(text: str) -> str:
    """Text as both databases can hold it: PostgreSQL's text has no NUL character."""
    return text.replace("\x00", "\ufffd")


class StoreBase:
    """The driver and clock every domain's statements run on; set by `Store.__init__`."""

    driver: Driver
    _db: Queries  # reads outside a transaction go straight to the driver
    _clock: Callable[[], datetime]

    def now(self) -> datetime:
        """The store's clock (injectable for tests of expiry and daily resets)."""
        return self._clock()

    def _now(self) -> str:
        return iso(self._clock())

    def _transaction(self) -> AbstractAsyncContextManager[Queries]:
        return self.driver.transaction()

    async def _insert(self, db: Queries, sql: str, params: tuple[object, ...]) -> int:
        row = await db.fetchrow(sql + " RETURNING id", params)
        assert row is not None
        return int(row[0])

    # Every admin change (tiers, campaigns, server ad settings, forgetting a user) is
    # audited in the same transaction as the change itself.
    async def _audit(self, db: Queries, actor: str, action: str, subject: str,
                     detail: str, reason: str) -> None:
        await db.execute(
            "INSERT INTO audit_log (actor, action, subject, detail, reason, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (actor, action, subject, detail, storable(reason), self._now()))

    async def record_event(self, action: str, detail: str) -> None:
        """An operational event (the model stopped, restarted...) in the audit log."""
        async with self._transaction() as db:
            await self._audit(db, "causette", action, "engine", detail, "")
