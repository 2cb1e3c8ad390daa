"""The PostgreSQL driver: an asyncpg connection pool, for several bot processes at once.

Statements arrive in the store's `?` style and are renumbered to `$1, $2, ...`. What must
be atomic across processes is atomic in the statement itself (conditional UPDATE,
INSERT ... ON CONFLICT) or, where a transaction reads before it writes, serialized by a
transaction-scoped advisory lock on a key (`lock`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.store.base import Dialect, Params, Queries, Row, StoreError
from bot.store.schema import TABLES

# An answer checkpoints its text every 2 s while tokens arrive; one untouched this long
# belongs to a process that died (others may be streaming right now, so not all are).
STALE_STREAMING = timedelta(minutes=10)

_COUNT = re.compile(r"(\d+)$")


def redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$n` (the store's SQL has no `?` inside literals)."""
    pieces = sql.split("?")
    return pieces[0] + "".join(f"${i}{piece}" for i, piece in enumerate(pieces[1:], 1))


def explain(exc: BaseException, location: str) -> StoreError:
    """An asyncpg or network error as one line that says what to do."""
    if isinstance(exc, asyncpg.InvalidPasswordError
                  | asyncpg.InvalidAuthorizationSpecificationError):
        why = "authentication failed; check the user and password in DATABASE_URL"
    elif isinstance(exc, asyncpg.InvalidCatalogNameError):
        why = "the database does not exist; create it (createdb) or fix DATABASE_URL"
    elif isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        why = "it is read-only (a standby?); point DATABASE_URL at the primary"
    elif isinstance(exc, asyncpg.DiskFullError):
        why = "the server's disk is full; free some space"
    elif isinstance(exc, asyncpg.LockNotAvailableError | asyncpg.DeadlockDetectedError):
        why = "it is locked by another transaction; try again"
    elif isinstance(exc, asyncpg.TooManyConnectionsError):
        why = "the server has no connection left; lower DATABASE_POOL_SIZE or raise max_connections"
    elif isinstance(exc, asyncpg.PostgresError):
        why = str(exc)
    elif isinstance(exc, TimeoutError):
        why = "the server did not answer in time; is it running and reachable?"
    elif isinstance(exc, asyncpg.InterfaceError | asyncpg.ConnectionDoesNotExistError):
        why = f"the connection was lost ({exc}); it is retried on the next request"
    else:  # OSError: refused, unreachable, no such socket
        why = f"cannot connect ({exc}); is the server running and DATABASE_URL right?"
    return StoreError(f"Database {location}: {why}.")


_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _count(status: str) -> int:
    """Rows changed, from a command tag such as 'UPDATE 3' or 'INSERT 0 1'."""
    found = _COUNT.search(status)
    return int(found.group(1)) if found else 0


class _Queries:
    """The query API over a pool (each statement on its own) or one connection."""

    def __init__(self, runner: asyncpg.Pool | asyncpg.Connection, location: str) -> None:
        self._runner = runner
        self.location = location

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return _count(await self._runner.execute(numbered(sql), *params))
        except _ERRORS as exc:
            raise explain(exc, self.location) from None

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return [tuple(r) for r in await self._runner.fetch(numbered(sql), *params)]
        except _ERRORS as exc:
            raise explain(exc, self.location) from None

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        try:
            row = await self._runner.fetchrow(numbered(sql), *params)
        except _ERRORS as exc:
            raise explain(exc, self.location) from None
        return tuple(row) if row is not None else None

    async def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        try:
            return [dict(r) for r in await self._runner.fetch(numbered(sql), *params)]
        except _ERRORS as exc:
            raise explain(exc, self.location) from None

    async def lock(self, key: str) -> None:
        """A transaction-scoped advisory lock: released by COMMIT or ROLLBACK."""
        await self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """COPY, PostgreSQL's bulk load."""
        try:
            await self._runner.copy_records_to_table(
                table, records=[tuple(r) for r in rows], columns=list(columns))
        except _ERRORS as exc:
            raise explain(exc, self.location) from None

    async def reset_ids(self, tables: Sequence[str]) -> None:
        for table in tables:
            await self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


class PostgresDriver(_Queries):
    """A pool of connections to one PostgreSQL database."""

    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, location: str) -> None:
        super().__init__(pool, location)
        self.pool = pool

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10,
                   connect_timeout_s: float = 10.0) -> PostgresDriver:
        """Connect a pool to `url` (postgresql://user:password@host:port/database)."""
        location = redact(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max(1, pool_size), timeout=connect_timeout_s)
        except _ERRORS as exc:
            raise explain(exc, location) from None
        except ValueError as exc:  # asyncpg's parser: a URL it cannot read
            raise StoreError(f"Database {location}: not a usable DATABASE_URL ({exc}).") from None
        return cls(pool, location)

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        """One transaction on one pooled connection (READ COMMITTED, PostgreSQL's default)."""
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                yield _Queries(connection, self.location)
        except _ERRORS as exc:
            raise explain(exc, self.location) from None

    async def integrity_check(self) -> str:
        """Every table present and every constraint validated; 'ok' or what is not."""
        problems = [f"table {table} is missing" for table in TABLES
                    if await self.fetchrow("SELECT to_regclass(?)", (table,)) == (None,)]
        for name, table in await self.fetch(
                "SELECT conname, conrelid::regclass::text FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = current_schema() AND NOT c.convalidated"):
            problems.append(f"constraint {name} on {table} is not validated")
        return "; ".join(problems) or "ok"

    def stale_streaming_cutoff(self, now: datetime) -> datetime | None:
        return now - STALE_STREAMING
