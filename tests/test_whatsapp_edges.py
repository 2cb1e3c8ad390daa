"""Trust at the edges of the WhatsApp surface (issue 26): a database away at start-up, a
connection cut after the answer left, a temporary chat's failed answer, retention of
inbound rows, and a validly signed body nested too deeply. Real webhook and Graph
stand-in servers on 127.0.0.1, real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.locales import t
from bot.pipeline.runtime import open_runtime
from bot.store import Store, StoreError, utc_now
from bot.store.inbound import FORGOTTEN, NewInbound
from bot.whatsapp import WhatsAppBot, node_id
from tests.support.clock import Clock
from tests.support.fakes import FakeEngine
from tests.support.llama_server import free_port
from tests.support.whatsapp import GraphStub, delivery, graph_server, text, until
from tests.test_whatsapp import USER, Harness, start


@pytest.fixture
async def wa(settings: Settings) -> AsyncIterator[Harness]:
    async for harness in start(settings, FakeEngine()):
        yield harness


async def dead_owner() -> str:
    """The owner name of a process of this machine that exited (its pid is free)."""
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    return f"{node_id()}/{gone.pid}/0dead0"


async def test_a_database_away_at_start_up_still_renews_and_picks_up(
        settings: Settings) -> None:
    """26.8: the first pick-up fails; the keeper runs anyway and answers the orphan."""
    stub = GraphStub()
    server = await graph_server(stub)
    settings = type(settings).model_validate({
        **settings.model_dump(), "whatsapp_access_token": "token",
        "whatsapp_graph_url": str(server.make_url("")).rstrip("/")})
    try:
        async with open_runtime(settings, engine=FakeEngine()) as runtime, \
                aiohttp.ClientSession() as session:
            store = runtime.store
            await store.accept_inbound("whatsapp", [NewInbound(
                "wamid.ORPHAN", USER, "PNID", "text", "Hello after the outage")],
                owner=await dead_owner(), lease_s=600)
            bot = WhatsAppBot(settings, runtime, session, lease_s=0.3)
            await store.driver.execute("PRAGMA busy_timeout = 100")
            blocker = sqlite3.connect(settings.database_path, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")  # the database is away
            try:
                with pytest.raises(StoreError):
                    await bot.start()
                # The keeper runs although the first pick-up failed.
                assert bot._keeper is not None and not bot._keeper.done()
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()

            async def answered() -> bool:
                row = await store.inbound_message("whatsapp", "wamid.ORPHAN")
                return row is not None and row.status == "answered"

            try:
                await until(answered, "the orphan answered by the keeper's pick-up")
                await bot.idle()
            finally:
                await bot.close()
            assert stub.texts() == ["You said: Hello after the outage"]
    finally:
        await server.close()


async def test_a_connection_cut_after_the_answer_left_is_not_sent_again(
        wa: Harness) -> None:
    """26.10: the Graph API read the message, then the connection was cut: no resend."""
    wa.graph.cut_texts = 1
    assert await wa.post(delivery(text("wamid.CUT", "Hello cut"))) == 200
    assert [p["text"]["body"] for p in wa.graph.cut] == ["You said: Hello cut"]
    assert wa.graph.text_attempts == 0 and wa.graph.texts() == []  # sent once, not retried
    row = await wa.row("wamid.CUT")
    assert row.status == "failed"
    assert row.error is not None and "may have been delivered" in row.error
    # An operator who checked with the user retries it on purpose: sent again, once.
    assert await wa.bot.retry(["wamid.CUT"]) == {"wamid.CUT": "answered"}
    assert wa.graph.texts() == ["You said: Hello cut"]


async def test_a_connection_refused_is_tried_again(wa: Harness) -> None:
    """26.10: a request that never left (nothing listened yet) is safe to send again."""
    port = free_port()
    wa.bot.graph.base = f"http://127.0.0.1:{port}"
    late = GraphStub()
    servers: list[TestServer] = []

    async def the_server_comes_up(seconds: float) -> None:  # the backoff, not timed
        app = web.Application()
        app.router.add_post("/{phone}/messages", late.handle)
        servers.append(TestServer(app, host="127.0.0.1", port=port))
        await servers[-1].start_server()

    wa.bot.graph.sleep = the_server_comes_up
    try:
        assert await wa.bot.graph.send_text("PNID", USER, "Hello again") is not None
    finally:
        for server in servers:
            await server.close()
    assert len(servers) == 1 and late.texts() == ["Hello again"]


async def test_a_temporary_chat_s_failed_answer_keeps_no_text(wa: Harness) -> None:
    """26.11: nothing of a temporary chat stays in processed_inbound."""
    assert await wa.post(delivery(text("wamid.T0", "/temporary on"))) == 200
    wa.graph.text_failures = [(400, {})]  # Meta refuses the answer: the row fails
    assert await wa.post(delivery(text("wamid.T1", "My secret plan"))) == 200
    row = await wa.row("wamid.T1")
    assert row.status == "failed"
    assert (row.body, row.reply, row.kind) == (None, None, FORGOTTEN)
    for table, column in (("processed_inbound", "body"), ("processed_inbound", "reply"),
                          ("messages", "content")):
        [(found,)] = await wa.runtime.store.driver.fetch(
            f"SELECT COUNT(*) FROM {table} WHERE {column} LIKE ?", ("%secret plan%",))
        assert found == 0, table
    # A retry cannot answer what was not kept: it says so, in the sender's language.
    assert await wa.bot.retry(["wamid.T1"]) == {"wamid.T1": "answered"}
    assert wa.graph.texts()[-1] == t("not_kept_temporary", "fr")


async def test_retention_purges_answered_and_failed_inbound_rows(settings: Settings) -> None:
    """26.11: RETENTION_DAYS covers processed_inbound: finished rows older than it go."""
    async for wa in start(settings.model_copy(update={"retention_days": 30}), FakeEngine()):
        month_ago = Clock(utc_now() - timedelta(days=31))
        old = await Store.open(wa.settings.database_path, clock=month_ago)
        try:
            rows = [NewInbound(f"wamid.OLD{i}", USER, "PNID", "text", f"old {i}")
                    for i in range(3)]
            await old.accept_inbound("whatsapp", rows, owner="me", lease_s=60)
            await old.finish_inbound("whatsapp", "wamid.OLD0", owner="me", status="answered")
            await old.finish_inbound("whatsapp", "wamid.OLD1", owner="me", status="failed",
                                     error="Graph API refused")
        finally:
            await old.close()
        assert await wa.post(delivery(text("wamid.NEW", "Hello now"))) == 200
        await wa.runtime.assistant.privacy.apply_retention()
        kept = {row[0] for row in await wa.runtime.store.driver.fetch(
            "SELECT message_id FROM processed_inbound")}
        # The pending one is still owed an answer; the recent one is within the period.
        assert kept == {"wamid.OLD2", "wamid.NEW"}


async def test_a_signed_body_nested_too_deeply_is_a_400(wa: Harness) -> None:
    """26.13: a valid signature over JSON deeper than the parser goes: 400, not 500."""
    deep = b"[" * 30_000 + b"]" * 30_000  # within WHATSAPP_MAX_BODY_BYTES (64,000 here)
    assert await wa.post(None, raw=deep) == 400
    assert await wa.post(delivery(text("wamid.AFTER", "Still here?"))) == 200
    assert wa.graph.texts() == ["You said: Still here?"]
