"""The SQLite driver (the default): two aiosqlite connections to a WAL-mode file.

Transactions run on the writer connection, one at a time; reads outside a transaction
run on the reader connection. On one shared connection a read would see whatever a
transaction of another coroutine had written so far (a day's ad spend in the middle of
a charge that may yet roll back); WAL gives the reader the last committed state only."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.store.base import Dialect, Params, Queries, Row, StoreError


def explain(exc: sqlite3.Error, location: str) -> StoreError:
    """An sqlite3 error as one line that says what to do."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        why = "it is locked by another process; stop the other process or try again"
    elif "readonly" in text:
        why = "it is read-only; fix the file's permissions or set DATABASE_PATH"
    elif "disk is full" in text or "full" in text:
        why = "the disk is full; free some space"
    elif "not a database" in text or "malformed" in text:
        why = "it is not a valid SQLite database; restore it or set DATABASE_PATH"
    else:
        why = text
    return StoreError(f"Database {location}: {why}.")


class _Queries:
    """The query API on one connection."""

    dialect: Dialect = "sqlite"

    def __init__(self, connection: aiosqlite.Connection, location: str) -> None:
        self.connection = connection
        self.location = location

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            cursor = await self.connection.execute(sql, tuple(params))
            count = cursor.rowcount
            await cursor.close()
        except sqlite3.Error as exc:
            raise explain(exc, self.location) from None
        return count

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        # One trip to aiosqlite's thread, where execute + fetchall + close would be three:
        # each trip is a thread hop, and every message's path makes a dozen of them.
        try:
            return [tuple(row) for row in
                    await self.connection.execute_fetchall(sql, tuple(params))]
        except sqlite3.Error as exc:
            raise explain(exc, self.location) from None

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch(sql, params)  # fetching all lets an INSERT ... RETURNING end
        return rows[0] if rows else None

    async def rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        try:  # rows are sqlite3.Row (set at open), which know their column names
            return [dict(zip(row.keys(), row, strict=True)) for row in
                    await self.connection.execute_fetchall(sql, tuple(params))]
        except sqlite3.Error as exc:
            raise explain(exc, self.location) from None

    async def lock(self, key: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already holds the whole database's write lock."""

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        try:
            await self.connection.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", [tuple(r) for r in rows])
        except sqlite3.Error as exc:
            raise explain(exc, self.location) from None

    async def reset_ids(self, tables: Sequence[str]) -> None:
        """Nothing to do: SQLite numbers new rows after the largest id."""


async def _connect(path: Path, uri: bool, busy_timeout_ms: int) -> aiosqlite.Connection:
    try:
        connection = await aiosqlite.connect(str(path), isolation_level=None, uri=uri)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"Database {path}: cannot open it ({exc}).") from None
    connection.row_factory = sqlite3.Row  # `rows` reads names in the same trip
    try:
        await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        await connection.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only a power
        # loss can drop the last commits, never corrupt the file.
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        await connection.close()
        raise explain(exc, str(path)) from None
    return connection


class SqliteDriver(_Queries):
    """Reads on the reader connection (committed data only); transactions on the writer,
    where a lock keeps coroutines out of each other's transaction."""

    def __init__(self, writer: aiosqlite.Connection, location: str,
                 reader: aiosqlite.Connection | None = None) -> None:
        # An in-memory database exists on one connection only: there, reads share it.
        super().__init__(reader or writer, location)
        self._writer = _Queries(writer, location)
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_ms: int = 5000) -> SqliteDriver:
        """Open (creating if needed) the file at `path` in WAL mode."""
        # A `file:` URI opens SQLite's own modes (mode=ro for a read-only copy).
        uri = str(path).startswith("file:")
        path = Path(path)
        try:
            if not uri and str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Database {path}: cannot open it ({exc}).") from None
        writer = await _connect(path, uri, busy_timeout_ms)
        if str(path) == ":memory:":
            return cls(writer, str(path))
        try:
            reader = await _connect(path, uri, busy_timeout_ms)
        except BaseException:
            await writer.close()
            raise
        return cls(writer, str(path), reader)

    async def close(self) -> None:
        """Close both connections; SQLite checkpoints the WAL on the last close."""
        if self._reader is not None:
            await self._reader.close()
        await self._writer.connection.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        """BEGIN IMMEDIATE ... COMMIT, so a crash never leaves half of it behind."""
        async with self._write_lock:
            writer = self._writer
            try:
                # Inside the try: a task cancelled while BEGIN runs must still roll back,
                # or the connection stays in a transaction the next BEGIN trips over.
                await writer.fetch("BEGIN IMMEDIATE")  # fetch: one thread hop, execute's two
                yield writer
                await writer.fetch("COMMIT")
            except BaseException:
                try:
                    await writer.connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        await self._writer.copy_rows(table, columns, rows)

    async def integrity_check(self) -> str:
        """SQLite's own integrity check."""
        return "; ".join(str(row[0]) for row in await self.fetch("PRAGMA integrity_check"))

    def stale_streaming_cutoff(self, now: datetime) -> datetime | None:
        # One process owns a SQLite file, so at open every streaming answer is a dead one.
        return None
