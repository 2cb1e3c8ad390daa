"""The store on real SQLite files: schema, turns, resets, crash marks, clear errors."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Store, StoreError


async def test_schema_is_migrated_in_wal_mode(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store.integrity_check() == "ok"
    finally:
        await store.close()
    raw = sqlite3.connect(tmp_path / "a.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in raw.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    raw.close()
    again = await Store.open(tmp_path / "a.db")  # re-opening applies nothing twice
    assert await again.schema_version() == SCHEMA_VERSION
    await again.close()


async def test_turns_round_trip_and_reset_keeps_old(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    user = await store.ensure_user("local", "ada")
    assert await store.ensure_user("local", "ada") == user
    conv = await store.open_conversation(user, "terminal")
    assert await store.open_conversation(user, "terminal") == conv
    text = "héllo \x00 wörld 🙂"
    await store.add_message(conv, "user", text)
    reply = await store.add_message(conv, "assistant", "", status="streaming")
    await store.finish_message(reply, "hi there", "complete", prompt_tokens=12,
                               completion_tokens=3, stop_reason="stop")
    turns = await store.messages(conv)
    assert [(t.role, t.content, t.status) for t in turns] == [
        ("user", text, "complete"), ("assistant", "hi there", "complete")]
    assert turns[1].completion_tokens == 3
    fresh = await store.reset_conversation(user, "terminal")
    assert fresh != conv
    assert await store.messages(fresh) == []
    assert len(await store.messages(conv)) == 2  # the old conversation is still stored
    assert [t.content for t in await store.messages(conv, limit=1)] == ["hi there"]
    await store.close()


async def test_streaming_turns_become_interrupted_on_reopen(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
    reply = await store.add_message(conv, "assistant", "partial", status="streaming")
    await store.close()  # as if the process died mid-answer
    store = await Store.open(tmp_path / "a.db")
    stored = await store.message(reply)
    assert stored is not None and stored.status == "interrupted"
    await store.close()


async def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "a.db")
    conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
    await asyncio.gather(*(store.add_message(conv, "user", f"m{i}") for i in range(50)))
    assert sorted(t.content for t in await store.messages(conv)) == sorted(
        f"m{i}" for i in range(50))
    await store.close()


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
