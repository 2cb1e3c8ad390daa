"""Export, forget, retention and stats, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.clock import Clock, StoreOpener
from tests.support.store import NOW, campaign


async def test_export_forget_purge_and_stats(open_store: StoreOpener) -> None:
    clock = Clock(NOW)
    store = await open_store(clock)
    user = await store.ensure_user("discord", "1")
    conv = await store.open_conversation(user, "dm")
    await store.add_message(conv, "user", "hello")
    await store.add_message(conv, "assistant", "hi")
    await store.consume_quota("discord:1", "2026-11-25", 10)
    await store.grant_tier("user", "discord:1", "plus", granted_by="op")
    cid = await campaign(store, budget_micros=10_000)
    await store.charge_impression(cid, 1000, user_id=user, platform="discord", matched="x",
                                  day="2026-11-25")
    exported = await store.export_user("discord:1")
    assert [m["content"] for c in exported["conversations"]  # type: ignore[attr-defined]
            for m in c["messages"]] == ["hello", "hi"]
    assert exported["ad_impressions"][0]["clicked"] == 0  # type: ignore[index]
    figures = await store.stats("2026-11-25")
    assert (figures["users"], figures["messages_today"], figures["ad_impressions_today"]) == (
        1, 1, 1)
    assert figures["active_grants"] == {"plus": 1}
    counts = await store.forget_user("discord:1", "forgotten:abc")
    assert counts["messages"] == 2 and counts["impressions_anonymised"] == 1
    assert (await store.export_user("discord:1"))["user"] is None
    assert (await store.campaign(cid)).spent_micros == 1000  # type: ignore[union-attr]
    other = await store.open_conversation(await store.ensure_user("local", "b"), "t")
    await store.add_message(other, "user", "old")
    clock.advance(days=40)
    await store.add_message(other, "user", "new")
    assert await store.purge_older_than(datetime(2026, 12, 1, tzinfo=UTC)) == 1
    assert [m.content for m in await store.messages(other)] == ["new"]
