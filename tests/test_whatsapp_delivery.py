"""WhatsApp at least once, answered once, with real processes: `python -m bot whatsapp`
on the real model, killed with SIGKILL between the 200 and the send, restarted; and two
processes on one PostgreSQL racing for a message whose process died.

The Graph API is a recording stand-in on 127.0.0.1 (tests/support/whatsapp.py) that can
hold a request unanswered: the test kills the webhook while it waits there."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.store import Store, utc_now
from bot.store.inbound import NewInbound
from tests.support.whatsapp import (
    GraphStub,
    Webhook,
    delivery,
    graph_server,
    signed,
    start_webhook,
    text,
    until,
    webhook_env,
)

SECRET = "app-secret"
USER = "33612345678"


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphStub, str]]:
    stub = GraphStub()
    server = await graph_server(stub)
    try:
        yield stub, str(server.make_url("")).rstrip("/")
    finally:
        stub.release()
        await server.close()


def database(store_url: str | None, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": store_url} if store_url else {
        "DATABASE_PATH": str(tmp_path / "whatsapp.db")}


async def open_database(env: dict[str, str]) -> Store:
    if "DATABASE_URL" in env:
        return await Store.connect(env["DATABASE_URL"], pool_size=1)
    # Opening a SQLite file sweeps 'streaming' answers: only while no webhook runs.
    return await Store.open(env["DATABASE_PATH"])


async def post(hook: Webhook, message_id: str, body_text: str) -> int:
    body, signature = signed(delivery(text(message_id, body_text)), SECRET)
    async with aiohttp.ClientSession() as session, session.post(
            hook.url, data=body, headers={"Content-Type": "application/json",
                                          "X-Hub-Signature-256": signature}) as response:
        return response.status


async def conversation(env: dict[str, str]) -> list[tuple[str, str, str]]:
    store = await open_database(env)
    try:
        exported = await store.export_user(f"whatsapp:{USER}")
    finally:
        await store.close()
    return [(m["role"], m["status"], m["content"])
            for c in exported["conversations"]  # type: ignore[attr-defined]
            for m in c["messages"]]


async def status(env: dict[str, str], message_id: str) -> tuple[str, str | None, str | None]:
    """A message's status, owner and kept reply, read beside the running webhook."""
    sql = ("SELECT status, owner, reply FROM processed_inbound "
           "WHERE platform = 'whatsapp' AND message_id = ?")
    if "DATABASE_URL" in env:
        store = await open_database(env)
        try:
            row = await store.driver.fetchrow(sql, (message_id,))
        finally:
            await store.close()
    else:  # read-only: opening a Store would sweep the webhook's answer in progress
        connection = sqlite3.connect(f"file:{env['DATABASE_PATH']}?mode=ro", uri=True)
        try:
            row = connection.execute(sql, (message_id,)).fetchone()
        finally:
            connection.close()
    assert row is not None
    return row[0], row[1], row[2]


@contextlib.asynccontextmanager
async def running(hook: Webhook) -> AsyncIterator[Webhook]:
    try:
        yield hook
    finally:
        if hook.process.returncode is None:
            assert await hook.stop() == 0, hook.log_text()[-3000:]  # a clean shutdown


async def test_kill_9_between_the_200_and_the_send_then_a_restart_answers_once(
        store_url: str | None, tmp_path: Path, graph: tuple[GraphStub, str]) -> None:
    stub, graph_url = graph
    env = webhook_env(tmp_path, graph_url, SECRET, **database(store_url, tmp_path))
    stub.hold = {"read"}  # the answer starts with the read receipt: it waits there
    first = await start_webhook(tmp_path, env, "first")
    async with running(first):
        assert await post(first, "wamid.KILL", "What is the capital of France?") == 200

        async def reading() -> bool:
            return len(stub.held) == 1

        await until(reading, "the read receipt of the accepted message")
        await first.kill_9()
    stub.release()
    assert stub.texts() == []
    state, owner, reply = await status(env, "wamid.KILL")
    assert state == "pending" and reply is None  # stored before the 200: not lost
    assert owner is not None and f"/{first.process.pid}/" in owner

    second = await start_webhook(tmp_path, env, "second")  # the restart
    async with running(second):
        async def answered() -> bool:
            return (await status(env, "wamid.KILL"))[0] == "answered"

        await until(answered, "the answer after the restart")
    # Stopped cleanly: nothing more can be sent. Exactly one answer went out.
    [answer] = stub.texts()
    assert "picked up 1 WhatsApp message(s)" in second.log_text()
    turns = await conversation(env)
    assert [(role, state) for role, state, _ in turns] == [
        ("user", "complete"), ("assistant", "complete")]
    assert turns[1][2].strip() == answer.strip() != ""


async def test_kill_9_while_the_answer_is_sent_resends_the_kept_answer(
        tmp_path: Path, graph: tuple[GraphStub, str]) -> None:
    stub, graph_url = graph
    env = webhook_env(tmp_path, graph_url, SECRET, DATABASE_PATH=str(tmp_path / "w.db"))
    stub.hold = {"text"}  # the answer was composed and kept; its POST never returns
    first = await start_webhook(tmp_path, env, "first")
    async with running(first):
        assert await post(first, "wamid.SENDING", "Name a colour.") == 200

        async def sending() -> bool:
            return len(stub.held) == 1

        await until(sending, "the answer's POST")
        await first.kill_9()
    stub.release()
    held = stub.held[0]["text"]["body"]
    state, _, reply = await status(env, "wamid.SENDING")
    assert (state, reply) == ("pending", held)

    second = await start_webhook(tmp_path, env, "second")
    async with running(second):
        async def answered() -> bool:
            return (await status(env, "wamid.SENDING"))[0] == "answered"

        await until(answered, "the kept answer sent after the restart")
    # The held POST was never acknowledged; the restart sent the kept text, once,
    # without asking the model again.
    assert stub.texts() == [held]
    assert [(role, state) for role, state, _ in await conversation(env)] == [
        ("user", "complete"), ("assistant", "complete")]


async def test_a_message_of_a_dead_process_is_answered_by_one_of_two_processes(
        postgres_url: str, tmp_path: Path, graph: tuple[GraphStub, str]) -> None:
    stub, graph_url = graph
    # A process on another machine stored it ten minutes ago, then died: its lease ran out.
    then = utc_now() - timedelta(minutes=10)
    store = await Store.connect(postgres_url, pool_size=1, clock=lambda: then)
    try:
        await store.accept_inbound(
            "whatsapp", [NewInbound("wamid.ORPHAN", USER, "PNID", "text", "Hello, anyone?")],
            owner="another-machine:1/4242/0dead0", lease_s=60)
    finally:
        await store.close()
    env = webhook_env(tmp_path, graph_url, SECRET, DATABASE_URL=postgres_url)
    # Both start, and pick up at start-up, at the same time.
    hooks = await asyncio.gather(*(start_webhook(tmp_path, env, name) for name in ("a", "b")))
    async with running(hooks[0]), running(hooks[1]):
        async def answered() -> bool:
            return (await status(env, "wamid.ORPHAN"))[0] == "answered"

        await until(answered, "the orphan's answer")
    assert len(stub.texts()) == 1
    pickers = [hook for hook in hooks if "picked up 1 WhatsApp message(s)" in hook.log_text()]
    assert len(pickers) == 1
    assert [(role, state) for role, state, _ in await conversation(env)] == [
        ("user", "complete"), ("assistant", "complete")]


def read_only(env: dict[str, str], sql: str, params: tuple[object, ...]) -> list[tuple]:
    """Rows of a SQLite database read beside the running webhook (opening a Store would
    sweep its answer in progress)."""
    connection = sqlite3.connect(f"file:{env['DATABASE_PATH']}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


async def test_kill_9_while_the_answer_is_generated_resumes_without_a_second_turn_or_count(
        tmp_path: Path, graph: tuple[GraphStub, str]) -> None:
    """Issue 26.9: the window between the user's turn stored (and counted) and the reply
    kept. The process taking the row over generates again, from the same turn."""
    stub, graph_url = graph
    env = webhook_env(tmp_path, graph_url, SECRET, DATABASE_PATH=str(tmp_path / "w.db"),
                      MAX_REPLY_TOKENS="400")
    stub.hold = {"text"}  # were the answer to end before the kill, it would wait here
    first = await start_webhook(tmp_path, env, "first")
    row_sql = ("SELECT status, reply, user_message_id, admitted FROM processed_inbound "
               "WHERE message_id = 'wamid.MIDWAY'")
    async with running(first):
        assert await post(first, "wamid.MIDWAY", "Write a long story about a lighthouse "
                                                 "keeper and the sea.") == 200

        async def committed() -> bool:
            return read_only(env, row_sql, ())[0][3] == 1

        await until(committed, "the user's turn recorded on the row")
        await first.kill_9()
    stub.release()
    [(state, reply, user_message_id, admitted)] = read_only(env, row_sql, ())
    # Killed while generating: turn stored and counted, nothing kept or sent yet.
    assert (state, reply, admitted) == ("pending", None, 1) and user_message_id is not None
    assert stub.held == [] and stub.texts() == []

    stub.hold = set()
    second = await start_webhook(tmp_path, env, "second")
    async with running(second):
        async def answered() -> bool:
            return read_only(env, row_sql, ())[0][0] == "answered"

        await until(answered, "the answer after the restart")
    [answer] = stub.texts()
    turns = await conversation(env)
    users = [content for role, _, content in turns if role == "user"]
    assert users == ["Write a long story about a lighthouse keeper and the sea."]  # once
    assert turns[-1][:2] == ("assistant", "complete")
    assert turns[-1][2].strip() == answer.strip() != ""
    # The crashed attempt's partial answer is kept as interrupted, not as an answer.
    assert [state for role, state, _ in turns if role == "assistant"] == [
        "interrupted", "complete"]
    [(counted,)] = read_only(env, "SELECT messages FROM usage_daily WHERE user_ref = ?",
                             (f"whatsapp:{USER}",))
    assert counted == 1  # counted against the quota once
