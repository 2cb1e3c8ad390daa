"""Saved memories in the store, on SQLite and PostgreSQL: per user, the limit, the
switches, export, forget, retention and the operator's counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.support.clock import Clock, StoreOpener
from tests.support.store import NOW


async def test_memories_are_per_user_and_limited(open_store: StoreOpener) -> None:
    store = await open_store()
    ada, bob = await store.ensure_user("discord", "1"), await store.ensure_user("discord", "2")
    first = await store.add_memory(ada, "I am vegetarian", "explicit", "dm", limit=2)
    assert first is not None and first.saved_in == "dm" and first.created_at
    await store.add_memory(bob, "I live in Lyon", "auto", "guild:1:channel:2", limit=2)
    # Two saves at once cannot both pass the limit.
    results = await asyncio.gather(*(store.add_memory(ada, f"fact {i}", "explicit", "dm",
                                                      limit=2) for i in range(3)))
    assert sum(r is not None for r in results) == 1
    assert (await store.memories(ada))[0].fact == "I am vegetarian"
    assert len(await store.memories(ada)) == 2
    assert [m.fact for m in await store.memories(bob)] == ["I live in Lyon"]
    # Nobody forgets someone else's memory, even knowing its id.
    [bob_memory] = await store.memories(bob)
    assert not await store.forget_memory(ada, bob_memory.id)
    assert await store.forget_memory(bob, bob_memory.id)
    assert await store.memories(bob) == []
    assert await store.clear_memories(ada) == 2
    assert await store.memories(ada) == []
    assert await store.add_memory(ada, "nul\x00byte", "explicit", "dm", limit=2) is not None


async def test_switches(open_store: StoreOpener) -> None:
    store = await open_store()
    user = await store.ensure_user("local", "ada")
    assert (await store.memory_settings(user)).enabled
    assert not (await store.memory_settings(user)).temporary
    await store.set_memory_settings(user, temporary=True)
    chosen = await store.set_memory_settings(user, enabled=False)
    assert (chosen.enabled, chosen.temporary) == (False, True)
    assert await store.memory_settings(user) == chosen


async def test_export_forget_retention_and_counts(open_store: StoreOpener) -> None:
    clock = Clock(NOW)
    store = await open_store(clock)
    ada = await store.ensure_user("discord", "1")
    await store.add_memory(ada, "My cat is called Miso", "explicit", "dm", limit=50)
    await store.set_memory_settings(ada, enabled=True, temporary=False)
    exported = await store.export_user("discord:1")
    assert [m["fact"] for m in exported["memories"]] == [  # type: ignore[attr-defined]
        "My cat is called Miso"]
    assert exported["memory_settings"] == {"enabled": True, "temporary": False}
    figures = await store.stats(NOW.date().isoformat())
    assert (figures["memories"], figures["memory_users"]) == (1, 1)
    assert "Miso" not in repr(figures)  # counted, never shown
    counts = await store.forget_user("discord:1", "forgotten:x")
    assert counts["memories"] == 1
    assert (await store.stats(NOW.date().isoformat()))["memories"] == 0

    bob = await store.ensure_user("local", "bob")
    await store.add_memory(bob, "old fact", "explicit", "terminal", limit=50)
    clock.advance(days=40)
    await store.add_memory(bob, "new fact", "explicit", "terminal", limit=50)
    await store.purge_older_than(datetime(2026, 12, 1, tzinfo=UTC))
    assert [m.fact for m in await store.memories(bob)] == ["new fact"]
