"""Reminders in the store, on SQLite and PostgreSQL: the per-user limit, listing and
cancelling one's own, claims that one process holds until its lease runs out, delivery
marked once, export and forget."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support.clock import StoreOpener

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)


async def test_limit_list_cancel_and_claims(open_store: StoreOpener) -> None:
    clock = [NOW]
    store = await open_store(lambda: clock[0])
    ada = await store.ensure_user("discord", "1")
    bob = await store.ensure_user("discord", "2")
    first = await store.add_reminder(ada, "discord", "dm", "call the bank",
                                     NOW + timedelta(minutes=5), "Europe/Paris", "en", limit=2)
    later = await store.add_reminder(ada, "discord", "dm", "water plants",
                                     NOW + timedelta(hours=5), "Europe/Paris", "en", limit=2)
    assert first is not None and later is not None
    assert await store.add_reminder(ada, "discord", "dm", "one too many", NOW, "UTC", "en",
                                    limit=2) is None
    assert [r.text for r in await store.reminders(ada)] == ["call the bank", "water plants"]
    assert not await store.cancel_reminder(bob, later.id)  # not his
    assert await store.cancel_reminder(ada, later.id)
    assert [r.text for r in await store.reminders(ada)] == ["call the bank"]

    lease = timedelta(seconds=60)
    assert await store.claim_due_reminders("discord", "p1", lease) == []  # not due yet
    clock[0] = NOW + timedelta(minutes=6)
    assert await store.claim_due_reminders("whatsapp", "p1", lease) == []  # other platform
    claims = await asyncio.gather(*(store.claim_due_reminders("discord", f"p{i}", lease)
                                    for i in range(4)))
    assert sorted(len(c) for c in claims) == [0, 0, 0, 1]  # one process holds it
    holder = f"p{[len(c) for c in claims].index(1)}"
    assert not await store.cancel_reminder(ada, first.id)  # being delivered: too late
    clock[0] += timedelta(seconds=61)  # the holder died: its lease runs out
    taken = await store.claim_due_reminders("discord", "p9", lease)
    assert [r.attempts for r in taken] == [2]
    assert not await store.reminder_delivered(first.id, holder)  # it lost the row
    assert await store.reminder_delivered(first.id, "p9")
    clock[0] += timedelta(hours=1)
    assert await store.claim_due_reminders("discord", "p1", lease) == []  # delivered once
    assert await store.reminders(ada) == []


async def test_export_and_forget_include_reminders(open_store: StoreOpener) -> None:
    store = await open_store()
    ada = await store.ensure_user("local", "ada")
    await store.set_timezone(ada, "Europe/Paris")
    await store.add_reminder(ada, "local", "terminal", "call the bank", NOW, "Europe/Paris",
                             "en", limit=5)
    exported = await store.export_user("local:ada")
    assert exported["timezone"] == "Europe/Paris"
    assert [r["text"] for r in exported["reminders"]] == ["call the bank"]  # type: ignore
    counts = await store.forget_user("local:ada", "anon-1")
    assert counts["reminders"] == 1
    ada = await store.ensure_user("local", "ada")
    assert await store.reminders(ada) == [] and await store.timezone(ada) is None
