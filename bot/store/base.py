"""What the store's two drivers (SQLite, PostgreSQL) share: errors, time, the query API."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[object]
Row = tuple[Any, ...]


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


def utc_now() -> datetime:
    """The current time in UTC (the store's default clock)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The one timestamp format of the database: UTC ISO 8601, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class Queries(Protocol):
    """Statements in `?` placeholder style; the driver adapts them to its database."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a query, as tuples."""
        ...

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query (the whole statement runs, e.g. INSERT ... RETURNING)."""
        ...

    async def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """All rows of a query, as column-name dicts."""
        ...

    async def lock(self, key: str) -> None:
        """Serialize this transaction with every other one that locks `key`, in any process."""
        ...

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Bulk-insert rows as they are (ids included), for `causette db copy`."""
        ...

    async def reset_ids(self, tables: Sequence[str]) -> None:
        """After rows were copied in with their ids, make new ids continue after them."""
        ...


class Driver(Queries, Protocol):
    """One database connection (or pool): reads outside transactions, and transactions."""

    dialect: Dialect
    location: str  # what error messages and logs call the database; never a password

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        """One atomic unit of writes: committed on exit, rolled back on any error."""
        ...

    async def close(self) -> None:
        """Release the connection(s)."""
        ...

    async def integrity_check(self) -> str:
        """'ok' when the database is sound, else what is wrong."""
        ...

    def stale_streaming_cutoff(self, now: datetime) -> datetime | None:
        """Answers still 'streaming' but untouched since this moment were cut off by a crash."""
        ...

