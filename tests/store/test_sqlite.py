"""SQLite's own: WAL mode, and clear errors for locked, invalid and read-only files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Store, StoreError


async def test_sqlite_runs_in_wal_mode_with_versions_recorded(tmp_path: Path) -> None:
    await (await Store.open(tmp_path / "a.db")).close()
    raw = sqlite3.connect(tmp_path / "a.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in raw.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    raw.close()


async def test_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = await Store.open(path, busy_timeout_ms=100)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            await store.ensure_user("local", "y")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await store.ensure_user("local", "y") > 0  # usable again once released
    assert await store.integrity_check() == "ok"
    await store.close()


async def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    path.write_bytes(b"this is not sqlite" * 1000)
    with pytest.raises(StoreError, match="not a valid SQLite database"):
        await Store.open(path)


async def test_read_only_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    await (await Store.open(path)).close()
    # SQLite's read-only mode: file modes alone do not bind root, which CI may be.
    with pytest.raises(StoreError, match="read-only"):
        await Store.open(f"file:{path}?mode=ro")
    store = await Store.open(path)
    assert await store.integrity_check() == "ok"
    await store.close()
