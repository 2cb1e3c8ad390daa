"""The WhatsApp webhook on a real aiohttp server, answering through a second real
aiohttp server that stands in for the Graph API and records what it receives."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.locales import t
from bot.money.ads import CampaignSpec
from bot.pipeline.runtime import Runtime, open_runtime
from bot.pipeline.streaming import split_text
from bot.store.inbound import InboundMessage, NewInbound
from bot.whatsapp import (
    WHATSAPP_LIMIT,
    WhatsAppBot,
    node_id,
    owner_is_dead,
    parse_delivery,
    retry_after_seconds,
    signature_ok,
)
from tests.support.fakes import FakeEngine
from tests.support.whatsapp import GraphStub, delivery, signed, text, until
from tests.support.whatsapp import graph_server as graph_stub_server

SECRET = "app-secret"
VERIFY = "verify-me"
USER = "33612345678"


@dataclass
class Harness:
    url: str
    graph: GraphStub
    bot: WhatsAppBot
    runtime: Runtime
    session: aiohttp.ClientSession
    waits: list[float]  # what the Graph client waited between tries, in seconds
    settings: Settings

    async def row(self, message_id: str) -> InboundMessage:
        row = await self.runtime.store.inbound_message("whatsapp", message_id)
        assert row is not None
        return row

    async def post(self, payload: Any, *, secret: str = SECRET, raw: bytes | None = None,
                   signature: str | None = None, tamper: bool = False,
                   wait: bool = True) -> int:
        """POST a delivery; with `wait`, until what it brought has been answered."""
        body = raw if raw is not None else json.dumps(payload).encode()
        sig = signature or "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if tamper:
            body = body.replace(b"Hello", b"Hellp")
        headers = {"Content-Type": "application/json"}
        if signature != "":
            headers["X-Hub-Signature-256"] = sig
        async with self.session.post(f"{self.url}/webhook", data=body, headers=headers) as r:
            status = r.status
        if wait:
            await self.bot.idle()
        return status


async def start(settings: Settings, engine: Any = None,
                lease_s: float = 60.0) -> AsyncIterator[Harness]:
    graph = GraphStub()
    graph_server = await graph_stub_server(graph)
    settings = settings.model_copy(update={
        "whatsapp_verify_token": VERIFY, "whatsapp_app_secret": SECRET,
        "whatsapp_access_token": "token-123", "whatsapp_max_body_bytes": 64_000,
        "whatsapp_graph_url": str(graph_server.make_url("")).rstrip("/"),
        "whatsapp_retry_base_seconds": 0.01})
    settings = type(settings).model_validate(settings.model_dump())  # secrets as SecretStr
    async with open_runtime(settings, engine=engine) as runtime, aiohttp.ClientSession() as s:
        bot = WhatsAppBot(settings, runtime, s, lease_s=lease_s)
        waits: list[float] = []

        async def record(seconds: float) -> None:  # the backoff asked for, not timed
            waits.append(seconds)

        bot.graph.sleep = record
        server = TestServer(bot.app(), host="127.0.0.1")
        await server.start_server()
        await bot.start()
        try:
            yield Harness(str(server.make_url("")).rstrip("/"), graph, bot, runtime, s, waits,
                          settings)
        finally:
            await server.close()
            await bot.close()
            graph.release()
            await graph_server.close()


@pytest.fixture
async def wa(settings: Settings) -> AsyncIterator[Harness]:
    async for harness in start(settings, FakeEngine()):
        yield harness


async def test_handshake(wa: Harness) -> None:
    ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "12345"}
    async with wa.session.get(f"{wa.url}/webhook", params=ok) as r:
        assert (r.status, await r.text()) == (200, "12345")
    for bad in ({**ok, "hub.verify_token": "nope"}, {**ok, "hub.mode": "unsubscribe"}, {}):
        async with wa.session.get(f"{wa.url}/webhook", params=bad) as r:
            assert r.status == 403


async def test_text_message_is_answered_in_context(wa: Harness) -> None:
    assert await wa.post(delivery(text("wamid.IN1", "Hello there"))) == 200
    read, answer = wa.graph.received
    assert read["status"] == "read" and read["typing_indicator"] == {"type": "text"}
    assert answer["_path"] == "/PNID/messages" and answer["to"] == "33612345678"
    assert answer["messaging_product"] == "whatsapp" and answer["type"] == "text"
    assert answer["context"] == {"message_id": "wamid.IN1"}
    assert answer["text"]["body"] == "You said: Hello there"
    assert wa.graph.auth == ["Bearer token-123", "Bearer token-123"]
    turns = await wa.runtime.assistant.history("whatsapp", "33612345678", "whatsapp")
    assert [t.role for t in turns] == ["user", "assistant"]


@pytest.mark.parametrize("case", ["missing", "wrong", "wrong key", "altered"])
async def test_bad_signatures_are_refused_and_nothing_is_processed(wa: Harness,
                                                                   case: str) -> None:
    payload = delivery(text("wamid.SIG", "Hello"))
    kwargs: dict[str, Any] = {
        "missing": {"signature": ""}, "wrong": {"signature": "sha256=" + "0" * 64},
        "wrong key": {"secret": "other-secret"}, "altered": {"tamper": True}}[case]
    assert await wa.post(payload, **kwargs) == 401
    assert wa.graph.received == []
    assert await wa.runtime.store.inbound_message("whatsapp", "wamid.SIG") is None  # never seen


async def test_oversize_and_malformed_bodies(wa: Harness) -> None:
    assert await wa.post(None, raw=b"{" + b" " * 70_000 + b"}") == 413
    assert await wa.post(None, raw=b"{not json") == 400
    assert await wa.post(None, raw=b"\xff\xfe\x00binary") == 400
    assert wa.graph.received == []


async def test_statuses_and_reactions_are_ignored_captions_read_and_notices_localised(
        wa: Harness) -> None:
    status = {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1764000001",
              "recipient_id": USER}
    assert await wa.post(delivery(statuses=[status])) == 200
    # A 👍 on an answer is no message: nothing stored, nothing sent.
    reaction = {"from": USER, "id": "wamid.LIKE", "timestamp": "1764000002",
                "type": "reaction", "reaction": {"message_id": "wamid.OUT1", "emoji": "👍"}}
    assert await wa.post(delivery(reaction)) == 200
    assert wa.graph.received == []
    assert await wa.runtime.store.inbound_message("whatsapp", "wamid.LIKE") is None
    # An image's caption is the message.
    captioned = {"from": USER, "id": "wamid.CAP", "timestamp": "1764000003", "type": "image",
                 "image": {"id": "MEDIA", "mime_type": "image/jpeg",
                           "caption": "What is in this dish?"}}
    assert await wa.post(delivery(captioned)) == 200
    assert wa.graph.texts() == ["You said: What is in this dish?"]
    # Anything else is declined in the sender's language: French for +33, else English.
    image = {"from": USER, "id": "wamid.IMG", "timestamp": "1764000004",
             "type": "image", "image": {"id": "MEDIA", "mime_type": "image/jpeg"}}
    assert await wa.post(delivery(image)) == 200
    assert wa.graph.texts()[-1] == t("text_only", "fr", names="image")
    sticker = {"from": "447700900123", "id": "wamid.STK", "timestamp": "1764000005",
               "type": "sticker", "sticker": {"id": "MEDIA2"}}
    assert await wa.post(delivery(sticker)) == 200
    assert wa.graph.texts()[-1] == "I can only read text: sticker skipped."


async def test_the_same_delivery_twice_gets_one_answer(wa: Harness) -> None:
    payload = delivery(text("wamid.DUP", "Hello once"))
    assert await wa.post(payload) == 200
    assert await wa.post(payload) == 200
    assert wa.graph.texts() == ["You said: Hello once"]


async def test_graph_500_then_200_gives_one_answer(wa: Harness) -> None:
    wa.graph.fail_first = 2  # the read receipt's first try and its retry fail
    assert await wa.post(delivery(text("wamid.R", "Hello retry"))) == 200
    assert wa.graph.texts() == ["You said: Hello retry"]


async def test_graph_down_stores_the_turn_as_failed(wa: Harness) -> None:
    wa.graph.fail_first = 1000
    assert await wa.post(delivery(text("wamid.DOWN", "Hello void"))) == 200
    turns = await wa.runtime.assistant.history("whatsapp", "33612345678", "whatsapp")
    assert turns[-1].role == "assistant" and turns[-1].status == "failed"
    assert turns[-1].stop_reason == "undelivered"
    wa.graph.fail_first, wa.graph.fail_status = 0, 400


async def test_commands_tiers_quotas_and_sponsored(wa: Harness) -> None:
    assistant = wa.runtime.assistant
    await assistant.ads.add([CampaignSpec(
        advertiser="Pasta Bella", headline="Fresh pasta", url="https://pasta.example",
        keywords=["pasta"], cpm=Decimal("5"), budget=Decimal("10"), start=date(2026, 1, 1),
        end=date(2030, 1, 1), languages=["en", "fr"])], actor="op")  # a +33 number: fr
    await wa.post(delivery(text("wamid.C1", "/premium")))
    assert "You are on the free tier" in wa.graph.texts()[-1]
    await wa.post(delivery(text("wamid.C2", "How do I cook pasta?")))
    assert wa.graph.texts()[-2] == "You said: How do I cook pasta?"
    assert wa.graph.texts()[-1].startswith("Sponsored · Pasta Bella")
    [report] = await assistant.ads.report()
    assert report.impressions == 1
    await assistant.tiers.grant("user", "whatsapp:33612345678", "plus", by="op")
    await wa.post(delivery(text("wamid.C3", "More pasta please")))
    assert not wa.graph.texts()[-1].startswith("Sponsored")
    await wa.post(delivery(text("wamid.C4", "/reset")))
    assert wa.graph.texts()[-1] == t("reset_done", "fr")  # a +33 number: in French


def test_parser_survives_odd_shapes() -> None:
    assert parse_delivery(None) == []
    assert parse_delivery({"entry": "nope"}) == []
    assert parse_delivery({"entry": [{"changes": [{"value": {"messages": [{"id": 3}]}}]}]}) == []
    assert signature_ok("k", b"x", None) is False
    assert signature_ok("k", b"x", "md5=abc") is False


async def test_through_the_real_model(settings: Settings) -> None:
    async for wa in start(settings):
        assert await wa.post(delivery(text("wamid.REAL", "What is the capital of France?"))) == 200
        answer = wa.graph.texts()[-1]
        turns = await wa.runtime.assistant.history("whatsapp", "33612345678", "whatsapp")
        assert turns[-1].status == "complete" and answer.strip() == turns[-1].content.strip()


# At least once, answered once (issue 14) ---------------------------------------------------

async def turns(wa: Harness) -> list[tuple[str, str]]:
    history = await wa.runtime.assistant.history("whatsapp", USER, "whatsapp")
    return [(turn.role, turn.status) for turn in history]


async def test_graph_500_twice_then_200_gives_one_answer_and_one_send(wa: Harness) -> None:
    wa.graph.text_failures = [(500, {}), (500, {})]
    assert await wa.post(delivery(text("wamid.R2", "Hello again"))) == 200
    assert wa.graph.texts() == ["You said: Hello again"]  # one send accepted...
    assert wa.graph.text_attempts == 3  # ...after two refused
    assert wa.waits == [0.01, 0.02]  # WHATSAPP_RETRY_BASE_SECONDS, doubling
    assert len(wa.runtime.engine.prompts) == 1  # type: ignore[attr-defined]  # one answer
    assert await turns(wa) == [("user", "complete"), ("assistant", "complete")]
    row = await wa.row("wamid.R2")
    assert (row.status, row.sender, row.body, row.reply) == ("answered", None, None, None)


async def test_429_waits_what_retry_after_asks(wa: Harness) -> None:
    wa.graph.text_failures = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "0"})]
    assert await wa.post(delivery(text("wamid.429", "Hello slowly"))) == 200
    assert wa.graph.texts() == ["You said: Hello slowly"]
    # Seven seconds as asked, then the backoff (longer than a Retry-After of 0).
    assert wa.waits == [7.0, 0.02]
    assert (await wa.row("wamid.429")).status == "answered"


async def test_a_retry_after_too_long_to_wait_fails_the_row_at_once(wa: Harness) -> None:
    wa.graph.text_failures = [(429, {"Retry-After": "3600"})]
    assert await wa.post(delivery(text("wamid.LONG", "Hello later"))) == 200
    assert wa.graph.texts() == [] and wa.waits == []
    row = await wa.row("wamid.LONG")
    assert row.status == "failed" and "asked to wait 3600 s" in (row.error or "")
    assert row.reply == "You said: Hello later"  # kept for the retry


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("12", now) == 12.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0  # past: now
    for unreadable in (None, "", "soon", "nan", "inf"):
        assert retry_after_seconds(unreadable, now) is None


async def causette(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`python -m bot ...` without blocking the loop (the Graph stub runs on it)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def operator_env(wa: Harness) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DISCORD_", "WHATSAPP_", "LLM_", "DATABASE_"))}
    return {**env, "DATABASE_PATH": str(wa.settings.database_path),
            "WHATSAPP_ACCESS_TOKEN": "token-123",
            "WHATSAPP_GRAPH_URL": wa.settings.whatsapp_graph_url,
            "WHATSAPP_RETRY_BASE_SECONDS": "0.01", "N_THREADS": "1", "N_CTX": "2048"}


async def test_every_try_failing_is_a_failed_row_in_stats_and_retry_answers_it_once(
        wa: Harness, tmp_path: Path) -> None:
    wa.graph.text_failures = [(503, {})] * 4  # WHATSAPP_SEND_ATTEMPTS
    assert await wa.post(delivery(text("wamid.DOWN2", "Hello void"))) == 200
    assert wa.graph.texts() == [] and wa.graph.text_attempts == 4
    row = await wa.row("wamid.DOWN2")
    assert row.status == "failed"
    assert row.error == "Graph API failed 4 times (last: HTTP 503: scripted 503)"
    history = await wa.runtime.assistant.history("whatsapp", USER, "whatsapp")
    assert (history[-1].status, history[-1].stop_reason) == ("failed", "undelivered")

    env = operator_env(wa)
    code, out, err = await causette("stats", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "whatsapp_failed          1" in out
    assert "wamid.DOWN2" in out and "Graph API failed 4 times" in out
    code, out, err = await causette("stats", "--json", env=env, cwd=tmp_path)
    figures = json.loads(out)
    assert figures["whatsapp_failed"] == 1
    assert [m["id"] for m in figures["whatsapp_failed_messages"]] == ["wamid.DOWN2"]

    code, out, err = await causette("whatsapp", "retry", "wamid.NOPE", env=env, cwd=tmp_path)
    assert code == 2 and "wamid.NOPE (no such message)" in err
    code, out, err = await causette("whatsapp", "retry", "--all", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines() == ["wamid.DOWN2: answered", "1 of 1 answered"]
    assert wa.graph.texts() == ["You said: Hello void"]  # the kept answer, sent once
    assert len(wa.runtime.engine.prompts) == 1  # type: ignore[attr-defined]  # not regenerated
    assert (await wa.row("wamid.DOWN2")).status == "answered"
    assert await turns(wa) == [("user", "complete"), ("assistant", "complete")]
    code, out, err = await causette("whatsapp", "retry", "--all", env=env, cwd=tmp_path)
    assert (code, out) == (0, "no failed WhatsApp message to retry\n")
    code, out, err = await causette("stats", env=env, cwd=tmp_path)
    assert "whatsapp_failed          0" in out and "wamid.DOWN2" not in out


async def test_a_long_answer_resumes_after_the_parts_already_sent(settings: Settings) -> None:
    long_answer = " ".join(f"word{n}" for n in range(1500))  # four WhatsApp messages
    async for wa in start(settings, FakeEngine(lambda _: long_answer)):
        # The first part is accepted, the second fails every try.
        wa.graph.text_failures = [(200, {}), *[(500, {})] * 4]
        await wa.post(delivery(text("wamid.LONGA", "Tell me everything")))
        first = wa.graph.texts()
        assert len(first) == 1
        row = await wa.row("wamid.LONGA")
        assert (row.status, row.sent_parts) == ("failed", 1)
        assert await wa.bot.retry(["wamid.LONGA"]) == {"wamid.LONGA": "answered"}
        texts = wa.graph.texts()
        assert len(texts) == len(split_text(long_answer, WHATSAPP_LIMIT)) == 4
        assert texts[0] == first[0]  # accepted before: not sent again
        assert " ".join(texts).split() == long_answer.split()


def body_pieces(body: bytes, count: int = 3) -> list[bytes]:
    size = -(-len(body) // count)
    return [body[i:i + size] for i in range(0, len(body), size)]


async def test_a_body_arriving_in_three_pieces_is_read_whole(wa: Harness) -> None:
    body, signature = signed(delivery(text("wamid.PIECES", "Hello in pieces")), SECRET)
    host, port = wa.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write((f"POST /webhook HTTP/1.1\r\nHost: {host}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                  f"X-Hub-Signature-256: {signature}\r\nConnection: close\r\n\r\n").encode())
    for piece in body_pieces(body):  # as a slow network delivers it
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.2)
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"200"
    await wa.bot.idle()
    assert wa.graph.texts() == ["You said: Hello in pieces"]


async def test_a_chunked_body_is_read_whole_and_an_oversize_one_refused(wa: Harness) -> None:
    body, signature = signed(delivery(text("wamid.CHUNKS", "Hello in chunks")), SECRET)

    async def slowly(pieces: list[bytes]) -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece
            await asyncio.sleep(0.2)

    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    async with wa.session.post(f"{wa.url}/webhook", data=slowly(body_pieces(body)),
                               headers=headers) as r:  # Transfer-Encoding: chunked
        assert r.status == 200
    await wa.bot.idle()
    assert wa.graph.texts() == ["You said: Hello in chunks"]
    # No Content-Length to refuse it by: the limit stops the reading itself.
    async with wa.session.post(f"{wa.url}/webhook", data=slowly([b"{" + b" " * 40_000] * 2),
                               headers=headers) as r:
        assert r.status == 413


async def test_a_database_down_at_delivery_is_not_acknowledged(wa: Harness) -> None:
    payload = delivery(text("wamid.LOCKED", "Hello locked"))
    await wa.runtime.store.driver.execute("PRAGMA busy_timeout = 100")
    blocker = sqlite3.connect(wa.settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert await wa.post(payload) == 503  # Meta delivers it again later...
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert wa.graph.received == []
    assert await wa.post(payload) == 200  # ...and then it is stored and answered
    assert wa.graph.texts() == ["You said: Hello locked"]


async def test_a_database_error_while_answering_is_told_and_answered_later(
        settings: Settings) -> None:
    # A short lease, so that the process's own pick-up takes the row back soon.
    async for wa in start(settings, FakeEngine(), lease_s=0.3):
        wa.graph.hold = {"read"}  # the answer starts with the read receipt: paused there
        assert await wa.post(delivery(text("wamid.DBERR", "Hello database")), wait=False) == 200

        async def held(wa: Harness = wa) -> bool:
            return len(wa.graph.held) == 1

        await until(held, "the read receipt")
        await wa.runtime.store.driver.execute("PRAGMA busy_timeout = 100")
        blocker = sqlite3.connect(wa.settings.database_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            wa.graph.release()
            await wa.bot.idle()  # the answer failed: no write was possible
            assert wa.graph.texts() == [t("failed", "fr")]  # never silence, in French
            assert (await wa.row("wamid.DBERR")).status == "pending"  # and not lost
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        async def answered(wa: Harness = wa) -> bool:
            return (await wa.row("wamid.DBERR")).status == "answered"

        await until(answered, "the answer once the database is back")
        await wa.bot.idle()
        assert wa.graph.texts() == [t("failed", "fr"), "You said: Hello database"]
        assert await turns(wa) == [("user", "complete"), ("assistant", "complete")]


async def test_a_dead_local_process_s_messages_are_picked_up_once(wa: Harness) -> None:
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()  # exited and reaped: its pid names no process
    dead = f"{node_id()}/{gone.pid}/0dead0"
    alive = f"{node_id()}/{os.getppid()}/a11ve0"
    store = wa.runtime.store
    await store.accept_inbound("whatsapp", [NewInbound("wamid.DEAD", USER, "PNID", "text",
                                                       "Hello from the past")],
                               owner=dead, lease_s=600)
    await store.accept_inbound("whatsapp", [NewInbound("wamid.ALIVE", USER, "PNID", "text",
                                                       "Hello from a live one")],
                               owner=alive, lease_s=600)
    assert owner_is_dead(dead, wa.bot.owner) and not owner_is_dead(alive, wa.bot.owner)
    assert not owner_is_dead("other-machine/1/abc", wa.bot.owner)
    assert await wa.bot.pickup() == 1
    await wa.bot.idle()
    assert await wa.bot.pickup() == 0
    assert wa.graph.texts() == ["You said: Hello from the past"]
    assert (await wa.row("wamid.DEAD")).status == "answered"
    assert (await wa.row("wamid.ALIVE")).owner == alive  # its lease still runs


async def test_premium_granted_to_a_typed_number_reaches_the_whatsapp_user(
        wa: Harness, tmp_path: Path) -> None:
    code, out, err = await causette("premium", "grant", "whatsapp:+33 6 12 34 56 78", "plus",
                                    env=operator_env(wa), cwd=tmp_path)
    assert code == 0, err
    assert out.startswith("whatsapp:33612345678 is now on plus")
    await wa.post(delivery(text("wamid.PLUS", "/premium")))
    assert wa.graph.texts()[-1].startswith("You are on the plus tier (user grant")


async def test_a_person_in_crisis_gets_the_lines_through_the_real_model(
        settings: Settings) -> None:
    async for wa in start(settings):
        french = text("wamid.CRISIS1", "Je veux me tuer.", sender="33612345678")
        assert await wa.post(delivery(french)) == 200
        answer = wa.graph.texts()[-1]
        assert answer.startswith("Je suis vraiment désolé") and "3114" in answer
        uk = text("wamid.CRISIS2", "I want to kill myself tonight.", sender="447700900123")
        assert await wa.post(delivery(uk)) == 200
        answer = wa.graph.texts()[-1]
        assert answer.startswith("I'm really sorry")
        assert answer.splitlines()[1] == "- United Kingdom: Samaritans, 116 123 (free, 24/7)"
        turns = await wa.runtime.assistant.history("whatsapp", "447700900123", "whatsapp")
        assert turns[-1].status == "complete" and turns[-1].content.strip() in answer
