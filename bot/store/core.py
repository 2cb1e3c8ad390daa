"""The store: every SQL statement of Causette, over SQLite (default) or PostgreSQL.

One Store class, two drivers. The SQL is written once, in the subset both databases
speak (upserts, RETURNING, FILTER, partial indexes); each driver adapts placeholders and
errors. Every write that must be atomic is one transaction, and every check-then-change
that another process could race (ad budgets, grants, migrations) is either a single
conditional statement or serialized with `lock(key)`.

Each domain's statements live in their own module, as a mixin on `StoreBase`
(common.py): conversations, guilds, tiers, ads, inbound, memories, privacy. Store, here, puts
them together with what concerns the whole database: opening, migrating, checking,
closing and copying it. Callers hold one Store and import from `bot.store`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.ads import AdsMixin
from bot.store.advertisers import AdvertisersMixin
from bot.store.base import Driver, Queries, StoreError, iso, utc_now
from bot.store.conversations import ConversationsMixin
from bot.store.guilds import GuildsMixin
from bot.store.inbound import InboundMixin
from bot.store.knowledge import KnowledgeMixin
from bot.store.memories import MemoriesMixin
from bot.store.privacy import PrivacyMixin
from bot.store.reminders import RemindersMixin
from bot.store.schema import (
    GENERATED_IDS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_TABLE,
    TABLES,
    for_dialect,
)
from bot.store.tiers import TiersMixin
from bot.store.web import WebMixin

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "iso", "utc_now"]


class Store(ConversationsMixin, GuildsMixin, TiersMixin, AdsMixin, InboundMixin,
            MemoriesMixin, PrivacyMixin, AdvertisersMixin, WebMixin, KnowledgeMixin,
            RemindersMixin):
    """Async access to Causette's database, whichever driver holds it."""

    def __init__(self, driver: Driver, clock: Callable[[], datetime] = utc_now) -> None:
        self.driver = driver
        self._db: Queries = driver
        self._clock = clock
        self.migrated_steps = 0  # what opening it applied (for `causette db migrate`)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.driver.dialect

    @property
    def location(self) -> str:
        """The database's path or URL (without password), for messages."""
        return self.driver.location

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_ms: int = 5000,
                   clock: Callable[[], datetime] = utc_now) -> Store:
        """Open (creating if needed) and migrate the SQLite database at `path`."""
        from bot.store.sqlite import SqliteDriver

        return await cls._start(await SqliteDriver.open(path, busy_timeout_ms=busy_timeout_ms),
                                clock)

    @classmethod
    async def connect(cls, url: str, *, pool_size: int = 10,
                      clock: Callable[[], datetime] = utc_now) -> Store:
        """Connect to and migrate the PostgreSQL database at `url`."""
        from bot.store.postgres import PostgresDriver

        return await cls._start(await PostgresDriver.open(url, pool_size=pool_size), clock)

    @classmethod
    async def from_settings(cls, settings: Settings,
                            clock: Callable[[], datetime] = utc_now) -> Store:
        """PostgreSQL when DATABASE_URL is set, else the SQLite file at DATABASE_PATH."""
        if settings.database_url is not None:
            return await cls.connect(settings.database_url.get_secret_value(),
                                     pool_size=settings.database_pool_size, clock=clock)
        return await cls.open(settings.database_path, clock=clock)

    @classmethod
    async def _start(cls, driver: Driver, clock: Callable[[], datetime]) -> Store:
        store = cls(driver, clock)
        try:
            store.migrated_steps = await store.migrate()
            await store.sweep_interrupted()
        except BaseException:
            await driver.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection (or pool)."""
        await self.driver.close()

    async def migrate(self) -> int:
        """Bring the schema up to date in one transaction; return how many steps ran."""
        dialect = self.driver.dialect
        async with self._transaction() as db:
            await db.lock("causette schema")  # two processes starting together migrate once
            await db.execute(SCHEMA_VERSION_TABLE[dialect])
            version = await self._version(db)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"Database {self.location} has schema version {version}, newer than "
                    f"this Causette ({SCHEMA_VERSION}); upgrade Causette.")
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number]:
                    spelled = for_dialect(statement, dialect)
                    if spelled is not None:
                        await db.execute(spelled)
                await db.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number + 1, self._now()))
        return SCHEMA_VERSION - version

    @staticmethod
    async def _version(db: Queries) -> int:
        row = await db.fetchrow("SELECT MAX(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    async def schema_version(self) -> int:
        """The schema version the database is at."""
        return await self._version(self._db)

    async def integrity_check(self) -> str:
        """The database's own soundness check: 'ok' when it is sound."""
        return await self.driver.integrity_check()

    # Moving a database -----------------------------------------------------------------

    async def table_counts(self, db: Queries | None = None) -> dict[str, int]:
        """Rows per table (what `causette db copy` checks), optionally inside `db`."""
        db = db or self._db
        counts = {}
        for table in TABLES:
            row = await db.fetchrow(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(row[0]) if row else 0
        return counts

    async def copy_to(self, target: Store, *, batch: int = 2000) -> dict[str, int]:
        """Copy every row of this (SQLite) database into an empty, migrated `target`.

        One transaction on each side: the source is write-locked while it is read, and
        the target commits only once its row counts equal the source's."""
        if self.dialect != "sqlite":
            raise StoreError("Copying reads a SQLite database; the source is not one.")
        if await self.schema_version() != await target.schema_version():
            raise StoreError("Source and target are at different schema versions; "
                             "run `causette db migrate` on both first.")
        filled = {t: n for t, n in (await target.table_counts()).items() if n}
        if filled:
            raise StoreError(f"Database {target.location} is not empty "
                             f"({', '.join(f'{t}: {n}' for t, n in filled.items())}); "
                             "copy only into a new database.")
        async with self._transaction() as source, target._transaction() as sink:
            for table in TABLES:
                offset = 0
                while rows := await source.rows(
                        f"SELECT * FROM {table} ORDER BY rowid LIMIT ? OFFSET ?",
                        (batch, offset)):
                    await sink.copy_rows(table, list(rows[0]),
                                         [tuple(row.values()) for row in rows])
                    offset += len(rows)
            await sink.reset_ids(GENERATED_IDS)
            expected, copied = await self.table_counts(source), await target.table_counts(sink)
            if copied != expected:  # rolls the target back: nothing half-copied stays
                wrong = [t for t in TABLES if copied[t] != expected[t]]
                raise StoreError(f"Copy check failed: row counts differ in {', '.join(wrong)}.")
        return copied
