"""The Store as a whole on real databases: migrations, and copying SQLite to PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Store, StoreError
from tests.support.clock import StoreOpener
from tests.support.store import campaign

# Portable: the same tests on SQLite and PostgreSQL -----------------------------------

async def test_schema_is_migrated_once(open_store: StoreOpener) -> None:
    store = await open_store()
    assert await store.schema_version() == SCHEMA_VERSION
    assert await store.integrity_check() == "ok"
    await store.close()
    again = await open_store()  # re-opening applies nothing twice
    assert await again.schema_version() == SCHEMA_VERSION
    assert await again.migrate() == 0


# PostgreSQL's own ------------------------------------------------------------------

async def test_copy_moves_a_sqlite_database_to_postgresql(tmp_path: Path,
                                                           postgres_url: str) -> None:
    source = await Store.open(tmp_path / "old.db")
    user = await source.ensure_user("discord", "1")
    conv = await source.open_conversation(user, "dm")
    for i in range(7):
        await source.add_message(conv, "user", f"turn {i}")
    await source.grant_tier("user", "discord:1", "plus", granted_by="op")
    cid = await campaign(source, budget_micros=10_000)
    impression = await source.charge_impression(cid, 1000, user_id=user, platform="discord",
                                                matched="pasta", day="2026-11-25")
    assert impression is not None and await source.record_click(impression)
    await source.claim_inbound("whatsapp", "wamid.1")
    target = await Store.connect(postgres_url)
    try:
        copied = await source.copy_to(target)
        assert copied == await source.table_counts()
        assert copied["messages"] == 7 and copied["clicks"] == 1
        assert [m.content for m in await target.messages(conv)] == [f"turn {i}" for i in range(7)]
        # New rows get ids after the copied ones; claimed ids stay claimed.
        assert await target.add_message(conv, "user", "after") > max(
            m.id for m in await source.messages(conv))
        assert not await target.claim_inbound("whatsapp", "wamid.1")
        with pytest.raises(StoreError, match="not empty"):
            await source.copy_to(target)  # never on top of existing data
    finally:
        await target.close()
        await source.close()


async def test_processes_starting_together_migrate_once(postgres_url: str) -> None:
    stores = await asyncio.gather(*(Store.connect(postgres_url, pool_size=1)
                                    for _ in range(4)))
    try:
        versions = await stores[0].driver.fetch("SELECT version FROM schema_version")
        assert sorted(v for (v,) in versions) == list(range(1, SCHEMA_VERSION + 1))
        assert sum(s.migrated_steps for s in stores) == SCHEMA_VERSION
    finally:
        for store in stores:
            await store.close()
