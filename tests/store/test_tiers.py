"""Tier grants and audit, entitlements, quotas and rate windows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.support.clock import Clock, StoreOpener
from tests.support.store import NOW


async def test_quota_is_atomic_under_concurrency(open_store: StoreOpener) -> None:
    store = await open_store()
    results = await asyncio.gather(*(store.consume_quota("local:eve", "2026-11-25", 10)
                                     for _ in range(40)))
    assert sum(results) == 10
    assert await store.usage("local:eve", "2026-11-25") == 10
    await store.refund_quota("local:eve", "2026-11-25")
    assert await store.usage("local:eve", "2026-11-25") == 9
    assert not await store.consume_quota("local:zed", "2026-11-25", 0)


async def test_rate_window_counts_and_resets(open_store: StoreOpener) -> None:
    store = await open_store()
    hits = [await store.hit_rate_limit("local:r", "100", 3) for _ in range(5)]
    assert hits == [False, False, False, True, True]
    assert not await store.hit_rate_limit("local:r", "110", 3)  # a new window


async def test_one_transaction_counts_rate_and_quota(open_store: StoreOpener) -> None:
    store = await open_store()
    verdicts = [await store.count_message("local:c", "100", 3, "2026-11-25", 2)
                for _ in range(4)]
    # The third is within the rate window but over the day's 2; the fourth hits the
    # rate limit first and is not counted against the quota.
    assert verdicts == ["ok", "ok", "quota", "rate"]
    assert await store.usage("local:c", "2026-11-25") == 2
    # Without a day (a person in crisis) only the rate window counts.
    assert await store.count_message("local:c", "110", 3, None, 2) == "ok"
    assert await store.usage("local:c", "2026-11-25") == 2
    results = await asyncio.gather(*(store.count_message("local:d", "100", 100, "d", 10)
                                     for _ in range(30)))
    assert results.count("ok") == 10 and results.count("quota") == 20


async def test_grants_replace_expire_revoke_and_audit(open_store: StoreOpener) -> None:
    clock = Clock(NOW)
    store = await open_store(clock)
    await store.grant_tier("user", "discord:1", "plus", granted_by="discord:9", reason="beta")
    await asyncio.gather(*(store.grant_tier("user", "discord:1", "pro", granted_by="op")
                           for _ in range(5)))
    active = await store.active_grants("user", ["discord:1"])
    assert [g.tier for g in active] == ["pro"]  # concurrent grants leave exactly one
    await store.grant_tier("role", "discord:9:50", "plus", granted_by="op",
                           expires_at=datetime(2026, 11, 26, tzinfo=UTC))
    assert [g.subject for g in await store.active_grants(prefix="discord:9:")] == [
        "discord:9:50"]
    clock.advance(days=2)
    assert await store.active_grants("role") == []
    assert await store.revoke_tier("user", "discord:1", revoked_by="op") == 1
    assert await store.active_grants("user", ["discord:1"]) == []
    actions = [e.action for e in await store.audit_log(limit=10)]
    assert actions.count("grant") == 7 and actions[0] == "revoke"
    assert (await store.audit_log(subject_contains="discord:1", limit=1))[0].reason == ""


async def test_entitlements_follow_the_platform(open_store: StoreOpener) -> None:
    clock = Clock(NOW)
    store = await open_store(clock)
    await store.upsert_entitlement("e1", "discord:1", "111", starts_at=None,
                                   ends_at=datetime(2026, 12, 25, tzinfo=UTC))
    assert [s for s, _ in await store.active_entitlements("discord:1")] == ["111"]
    await store.upsert_entitlement("e1", "discord:1", "111", starts_at=None, ends_at=None,
                                   deleted=True)
    assert await store.active_entitlements("discord:1") == []
