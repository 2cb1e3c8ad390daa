"""The store on real databases: every portable test runs on a SQLite file and on a real
PostgreSQL server (tests/conftest.py's `open_store`); the rest are one dialect's own."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import SCHEMA_VERSION, Store, StoreError
from tests.support.clock import Clock, StoreOpener

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def campaign(store: Store, budget_micros: int, cpm_micros: int = 1_000_000,
                   daily_micros: int | None = None) -> int:
    return await store.add_campaign(
        advertiser="Pasta Bella", headline="Fresh pasta", body="At your door.",
        url="https://pasta.example", keywords=["pasta"], categories=[], languages=["en"],
        cpm_micros=cpm_micros, budget_micros=budget_micros, daily_budget_micros=daily_micros,
        start_at="2026-01-01", end_at="2027-01-01", status="active", guild_id=None,
        created_by="test")


# Portable: the same tests on SQLite and PostgreSQL -----------------------------------

async def test_schema_is_migrated_once(open_store: StoreOpener) -> None:
    store = await open_store()
    assert await store.schema_version() == SCHEMA_VERSION
    assert await store.integrity_check() == "ok"
    await store.close()
    again = await open_store()  # re-opening applies nothing twice
    assert await again.schema_version() == SCHEMA_VERSION
    assert await again.migrate() == 0


async def test_turns_round_trip_and_reset_keeps_old(open_store: StoreOpener) -> None:
    store = await open_store()
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
    # NUL is not text (PostgreSQL refuses it): both stores keep a visible stand-in.
    assert [(t.role, t.content, t.status) for t in turns] == [
        ("user", "héllo \ufffd wörld 🙂", "complete"), ("assistant", "hi there", "complete")]
    assert turns[1].completion_tokens == 3 and turns[1].prompt_tokens == 12
    fresh = await store.reset_conversation(user, "terminal")
    assert fresh != conv
    assert await store.messages(fresh) == []
    assert len(await store.messages(conv)) == 2  # the old conversation is still stored
    assert [t.content for t in await store.messages(conv, limit=1)] == ["hi there"]


async def test_concurrent_writers_lose_nothing(open_store: StoreOpener) -> None:
    store = await open_store()
    conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
    await asyncio.gather(*(store.add_message(conv, "user", f"m{i}") for i in range(50)))
    assert sorted(t.content for t in await store.messages(conv)) == sorted(
        f"m{i}" for i in range(50))


async def test_concurrent_first_messages_share_one_user_and_conversation(
        open_store: StoreOpener) -> None:
    store = await open_store()
    users = await asyncio.gather(*(store.ensure_user("local", "new") for _ in range(20)))
    assert len(set(users)) == 1
    conversations = await asyncio.gather(*(store.open_conversation(users[0], "k")
                                           for _ in range(20)))
    assert len(set(conversations)) == 1


async def test_crashed_answers_become_interrupted_on_reopen(open_store: StoreOpener) -> None:
    clock = Clock(NOW)
    store = await open_store(clock)
    conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
    reply = await store.add_message(conv, "assistant", "partial", status="streaming")
    await store.close()  # as if the process died mid-answer
    store = await open_store(clock)
    stored = await store.message(reply)
    assert stored is not None
    if store.dialect == "postgresql":
        # Another process may be streaming it right now: only a stale one is cut off.
        assert stored.status == "streaming"
        await store.close()
        clock.advance(minutes=11)
        store = await open_store(clock)
        stored = await store.message(reply)
        assert stored is not None
    assert (stored.status, stored.content) == ("interrupted", "partial")


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


async def test_fifty_concurrent_deliveries_never_overspend(open_store: StoreOpener) -> None:
    store = await open_store()
    user = await store.ensure_user("local", "u")
    # CPM 1.00 -> 1000 micros per impression; the budget pays for exactly 10.
    cid = await campaign(store, budget_micros=10_000)
    charged = await asyncio.gather(*(
        store.charge_impression(cid, 1000, user_id=user, platform="local", matched="pasta",
                                day="2026-11-25", delivery_ref=f"d{i}") for i in range(50)))
    assert sum(c is not None for c in charged) == 10
    stored = await store.campaign(cid)
    assert stored is not None
    assert (stored.spent_micros, stored.status) == (10_000, "exhausted")
    assert await store.day_spend(cid, "2026-11-25") == 10_000


async def test_daily_budget_holds_under_concurrency(open_store: StoreOpener) -> None:
    store = await open_store()
    user = await store.ensure_user("local", "u")
    cid = await campaign(store, budget_micros=100_000, daily_micros=3_000)
    charged = await asyncio.gather(*(
        store.charge_impression(cid, 1000, user_id=user, platform="local", matched="pasta",
                                day="2026-11-25") for _ in range(20)))
    assert sum(c is not None for c in charged) == 3
    assert await store.charge_impression(cid, 1000, user_id=user, platform="local",
                                         matched="pasta", day="2026-11-26") is not None


async def test_clicks_count_once_and_reports_add_up(open_store: StoreOpener) -> None:
    store = await open_store()
    user = await store.ensure_user("local", "u")
    cid = await campaign(store, budget_micros=10_000)
    impression = await store.charge_impression(cid, 1000, user_id=user, platform="local",
                                               matched="pasta", day="2026-11-25",
                                               delivery_ref="msg-1")
    assert impression is not None
    assert await store.impression_by_delivery("msg-1") == (impression, "pasta")
    clicks = await asyncio.gather(*(store.record_click(impression) for _ in range(5)))
    assert sum(clicks) == 1
    assert not await store.record_click(999_999)
    day = (await store.campaign_days())[0]
    assert (day.impressions, day.clicks, day.spent_micros) == (1, 1, 1000)
    assert (await store.ad_counters(user, "2026-11-25"))[0] == 1
    assert not await store.set_campaign_status(cid, "active", allowed_from=("paused",),
                                               actor="op")
    assert await store.set_campaign_status(cid, "paused", allowed_from=("active",), actor="op")


async def test_an_inbound_id_is_claimed_once(open_store: StoreOpener) -> None:
    store = await open_store()
    claims = await asyncio.gather(*(store.claim_inbound("whatsapp", "wamid.1")
                                    for _ in range(10)))
    assert sum(claims) == 1
    assert await store.claim_inbound("whatsapp", "wamid.2")


async def test_server_settings_and_personas(open_store: StoreOpener) -> None:
    store = await open_store()
    await store.set_guild_rule("9", "channel", "5", "allow", "op")
    await store.set_guild_rule("9", "channel", "5", "block", "op")
    assert [(r.kind, r.mode) for r in await store.guild_rules("9")] == [("channel", "block")]
    await store.set_guild_rule("9", "channel", "5", None, "op")
    assert await store.guild_rules("9") == []
    await store.set_channel_prompt("9", "5", "Be brief.", "op")
    assert await store.channel_prompts("9") == {"5": "Be brief."}
    await store.set_persona("local:a", "a pirate")
    assert await store.persona("local:a") == "a pirate"
    await store.set_persona("local:a", None)
    assert await store.persona("local:a") is None
    await store.set_guild_ads("9", True, "op")
    assert await store.guild_ads("9") is True and await store.guild_ads("8") is None
    user = await store.ensure_user("local", "a")
    await store.set_personalize(user, True)
    assert await store.personalize(user)


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


async def test_unreachable_postgresql_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot connect") as caught:
        await Store.connect("postgresql://bot:s3cret@127.0.0.1:1/causette")
    assert "s3cret" not in str(caught.value)  # the password never reaches a message


async def test_missing_postgresql_database_is_a_clear_error(postgres_url: str) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await Store.connect(postgres_url.replace("/t_", "/missing_"))


# SQLite's own ----------------------------------------------------------------------

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


async def test_a_dropped_postgresql_connection_is_replaced(
        postgres_url: str) -> None:
    store = await Store.connect(postgres_url, pool_size=1)
    try:
        user = await store.ensure_user("local", "ada")
        # The server ends every other session (a failover, an admin, a restart).
        other = await Store.connect(postgres_url, pool_size=1)
        try:
            await other.driver.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        finally:
            await other.close()
        await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connection
        assert await store.ensure_user("local", "ada") == user  # the pool reconnected
    finally:
        await store.close()


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


async def test_a_running_process_sweeps_only_stale_answers(postgres_url: str) -> None:
    from bot.runtime import _sweep_loop

    clock = Clock(NOW)
    store = await Store.connect(postgres_url, clock=clock)
    try:
        conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
        dead = await store.add_message(conv, "assistant", "cut off", status="streaming")
        clock.advance(minutes=11)
        live = await store.add_message(conv, "assistant", "still going", status="streaming")
        sweeper = asyncio.create_task(_sweep_loop(store, every_s=0.01))
        await asyncio.sleep(0.3)
        sweeper.cancel()
        statuses = [(await store.message(m)).status for m in (dead, live)]  # type: ignore[union-attr]
        assert statuses == ["interrupted", "streaming"]
    finally:
        await store.close()
