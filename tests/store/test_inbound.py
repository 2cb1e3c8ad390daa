"""Inbound messages on SQLite and PostgreSQL: stored once, taken by one owner at a time,
every write fenced by its owner, failed ones retried once; and the migration from the
dedup-only table."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.store import MIGRATIONS, Store
from bot.store.inbound import MAX_TAKES, NewInbound
from tests.support.clock import Clock, StoreOpener

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new(message_id: str, body: str = "Hello", sender: str = "33612345678") -> NewInbound:
    return NewInbound(message_id, sender, "PNID", "text", body)


async def test_an_inbound_id_is_claimed_once(open_store: StoreOpener) -> None:
    store = await open_store()
    claims = await asyncio.gather(*(store.claim_inbound("whatsapp", "wamid.1")
                                    for _ in range(10)))
    assert sum(claims) == 1
    assert await store.claim_inbound("whatsapp", "wamid.2")


async def test_a_delivery_is_stored_once_by_one_of_two_processes(
        open_store: StoreOpener) -> None:
    stores = [await open_store(), await open_store()]  # two connections, as two processes
    results = await asyncio.gather(*(
        stores[n % 2].accept_inbound("whatsapp", [new("wamid.A"), new("wamid.B")],
                                     owner=f"owner-{n}", lease_s=60) for n in range(10)))
    winners = [n for n, stored in enumerate(results) if stored]
    assert len(winners) == 1  # the whole delivery, in one transaction
    [stored] = [results[n] for n in winners]
    assert [(m.message_id, m.status, m.owner, m.attempts, m.body) for m in stored] == [
        ("wamid.A", "pending", f"owner-{winners[0]}", 1, "Hello"),
        ("wamid.B", "pending", f"owner-{winners[0]}", 1, "Hello")]
    # A later delivery with one new message stores only that one.
    again = await stores[0].accept_inbound("whatsapp", [new("wamid.B"), new("wamid.C")],
                                           owner="late", lease_s=60)
    assert [m.message_id for m in again] == ["wamid.C"]


async def test_an_orphan_is_taken_by_exactly_one_process(open_store: StoreOpener) -> None:
    clock = Clock(START)
    first, second = await open_store(clock), await open_store(clock)
    await first.accept_inbound("whatsapp", [new("wamid.O")], owner="gone", lease_s=60)
    # Under its lease, nobody takes it...
    assert await second.take_orphans("whatsapp", owner="b", lease_s=60, limit=10) == []
    assert await first.pending_owners("whatsapp") == ["gone"]
    clock.advance(seconds=61)  # ...its owner stopped renewing it
    assert await first.pending_owners("whatsapp") == []
    takes = await asyncio.gather(*(
        (first if n % 2 else second).take_orphans("whatsapp", owner=f"taker-{n}", lease_s=60,
                                                  limit=10) for n in range(8)))
    taken = [(n, rows) for n, rows in enumerate(takes) if rows]
    assert len(taken) == 1
    n, [row] = taken[0]
    assert (row.message_id, row.owner, row.attempts) == ("wamid.O", f"taker-{n}", 2)


async def test_a_dead_owner_is_taken_from_at_once_and_writes_are_fenced(
        open_store: StoreOpener) -> None:
    store = await open_store()
    await store.accept_inbound("whatsapp", [new("wamid.D")], owner="dead", lease_s=600)
    assert await store.take_orphans("whatsapp", owner="me", lease_s=60, limit=10,
                                    dead_owners=["someone-else"]) == []
    [row] = await store.take_orphans("whatsapp", owner="me", lease_s=60, limit=10,
                                     dead_owners=["dead"])
    assert row.owner == "me"
    # The former owner (had it been alive after all) can change nothing any more.
    assert not await store.keep_reply("whatsapp", "wamid.D", owner="dead", reply="x",
                                      reply_message_id=None, lease_s=60)
    assert not await store.parts_sent("whatsapp", "wamid.D", owner="dead", parts=1, lease_s=60)
    assert not await store.finish_inbound("whatsapp", "wamid.D", owner="dead",
                                          status="answered")
    assert await store.renew_inbound("whatsapp", ["wamid.D"], owner="dead", lease_s=60) == set()
    assert await store.renew_inbound("whatsapp", ["wamid.D"], owner="me", lease_s=60) == {
        "wamid.D"}
    assert await store.keep_reply("whatsapp", "wamid.D", owner="me", reply="Hi there",
                                  reply_message_id=None, lease_s=60)
    assert await store.parts_sent("whatsapp", "wamid.D", owner="me", parts=1, lease_s=60)
    kept = await store.inbound_message("whatsapp", "wamid.D")
    assert kept is not None and (kept.reply, kept.sent_parts) == ("Hi there", 1)
    assert await store.finish_inbound("whatsapp", "wamid.D", owner="me", status="answered")
    done = await store.inbound_message("whatsapp", "wamid.D")
    assert done is not None and done.status == "answered" and done.owner is None
    # Who wrote what is not kept once answered: the conversation has it.
    assert (done.sender, done.channel, done.body, done.reply) == (None, None, None, None)


async def test_a_message_that_kills_every_process_is_failed(open_store: StoreOpener) -> None:
    clock = Clock(START)
    store = await open_store(clock)
    await store.accept_inbound("whatsapp", [new("wamid.K")], owner="p0", lease_s=60)
    for n in range(1, MAX_TAKES):
        clock.advance(seconds=61)
        [row] = await store.take_orphans("whatsapp", owner=f"p{n}", lease_s=60, limit=10)
        assert row.attempts == n + 1
    clock.advance(seconds=61)
    assert await store.take_orphans("whatsapp", owner="last", lease_s=60, limit=10) == []
    row = await store.inbound_message("whatsapp", "wamid.K")
    assert row is not None and row.status == "failed" and "gave up" in (row.error or "")


async def test_failed_rows_are_counted_listed_and_retried_once(open_store: StoreOpener) -> None:
    store = await open_store()
    other = await open_store()
    await store.accept_inbound("whatsapp", [new("wamid.F1"), new("wamid.F2"), new("wamid.P")],
                               owner="me", lease_s=60)
    for message_id in ("wamid.F1", "wamid.F2"):
        assert await store.finish_inbound("whatsapp", message_id, owner="me", status="failed",
                                          error="Graph API failed 4 times (last: HTTP 500)")
    figures = await store.stats(START.date().isoformat())
    assert (figures["whatsapp_pending"], figures["whatsapp_failed"]) == (1, 2)
    failed = await store.inbound_by_status("failed")
    assert [(r.message_id, r.body, r.error) for r in failed] == [
        ("wamid.F1", "Hello", "Graph API failed 4 times (last: HTTP 500)"),
        ("wamid.F2", "Hello", "Graph API failed 4 times (last: HTTP 500)")]
    # Two operators retry the same message at once: one of them takes it.
    retries = await asyncio.gather(*(
        (store if n % 2 else other).retry_failed("whatsapp", ["wamid.F1"], owner=f"op-{n}",
                                                 lease_s=60) for n in range(6)))
    assert sum(len(rows) for rows in retries) == 1
    assert await store.retry_failed("whatsapp", ["wamid.P"], owner="op", lease_s=60) == []
    [row] = await store.retry_failed("whatsapp", None, owner="op", lease_s=60)
    assert (row.message_id, row.status, row.error, row.attempts) == (
        "wamid.F2", "pending", None, 1)
    assert (await store.stats(START.date().isoformat()))["whatsapp_failed"] == 0


async def test_forgetting_a_user_deletes_their_failed_messages(open_store: StoreOpener) -> None:
    store = await open_store()
    await store.accept_inbound("whatsapp", [new("wamid.X", "my secret")], owner="me",
                               lease_s=60)
    await store.finish_inbound("whatsapp", "wamid.X", owner="me", status="failed", error="down")
    exported = await store.export_user("whatsapp:33612345678")
    assert [(r["message_id"], r["body"]) for r in exported["inbound_unanswered"]] == [  # type: ignore[attr-defined]
        ("wamid.X", "my secret")]
    counts = await store.forget_user("whatsapp:33612345678", "forgotten:1")
    assert counts["inbound_deleted"] == 1
    assert await store.inbound_message("whatsapp", "wamid.X") is None


async def test_rows_of_the_dedup_only_schema_stay_answered(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, "
                 "applied_at TEXT NOT NULL)")
    for number, statements in enumerate(MIGRATIONS[:5], 1):
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, 'then')", (number,))
    conn.execute("INSERT INTO processed_inbound VALUES ('whatsapp', 'wamid.OLD', 'then')")
    conn.commit()
    conn.close()
    store = await Store.open(path)
    try:
        assert store.migrated_steps == len(MIGRATIONS) - 5
        row = await store.inbound_message("whatsapp", "wamid.OLD")
        assert row is not None and (row.status, row.owner) == ("answered", None)
        assert await store.take_orphans("whatsapp", owner="me", lease_s=60, limit=10) == []
        assert await store.integrity_check() == "ok"
    finally:
        await store.close()


async def test_a_failed_row_requeued_is_taken_once_by_the_next_pickup(
        open_store: StoreOpener) -> None:
    clock = Clock(START)
    store, other = await open_store(clock), await open_store(clock)
    await store.accept_inbound("whatsapp", [new("wamid.R"), new("wamid.Q")], owner="me",
                               lease_s=60)
    assert await store.keep_reply("whatsapp", "wamid.R", owner="me", reply="Kept answer",
                                  reply_message_id=None, lease_s=60)
    assert await store.parts_sent("whatsapp", "wamid.R", owner="me", parts=1, lease_s=60)
    assert await store.finish_inbound("whatsapp", "wamid.Q", owner="me", status="answered")
    # Taken MAX_TAKES times (each owner died), then failed: once requeued, the pick-up
    # must answer it, not fail it as a message that crashes every process.
    for n in range(MAX_TAKES - 1):
        clock.advance(seconds=61)
        [taken] = await store.take_orphans("whatsapp", owner=f"dead{n}", lease_s=60, limit=1)
    assert taken.attempts == MAX_TAKES
    assert await store.finish_inbound("whatsapp", "wamid.R", owner=taken.owner or "",
                                      status="failed", error="HTTP 500")
    assert not await store.requeue_failed("whatsapp", "wamid.Q", actor="operator:web")
    assert not await store.requeue_failed("whatsapp", "wamid.NONE", actor="operator:web")
    # Two operators press Retry at once: one hands it back, the other changes nothing.
    requeued = await asyncio.gather(*(
        (store if n % 2 else other).requeue_failed("whatsapp", "wamid.R", actor=f"op:{n}")
        for n in range(6)))
    assert sum(requeued) == 1
    row = await store.inbound_message("whatsapp", "wamid.R")
    assert row is not None
    assert (row.status, row.owner, row.error, row.attempts, row.reply, row.sent_parts) == (
        "pending", None, None, 0, "Kept answer", 1)
    [entry] = [e for e in await store.audit_log(limit=5) if e.action == "inbound retry"]
    assert (entry.subject, entry.actor.startswith("op:")) == ("whatsapp:wamid.R", True)
    # Unowned, it is an orphan at once: of the processes picking up, exactly one takes it.
    takes = await asyncio.gather(*(
        (store if n % 2 else other).take_orphans("whatsapp", owner=f"p{n}", lease_s=60,
                                                 limit=10) for n in range(6)))
    assert [row.message_id for rows in takes for row in rows] == ["wamid.R"]
    [taken] = [rows[0] for rows in takes if rows]
    assert (taken.status, taken.attempts, taken.reply, taken.sent_parts) == (
        "pending", 1, "Kept answer", 1)
    assert not await store.requeue_failed("whatsapp", "wamid.R", actor="operator:web")
