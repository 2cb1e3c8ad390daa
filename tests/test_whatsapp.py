"""The WhatsApp webhook on a real aiohttp server, answering through a second real
aiohttp server that stands in for the Graph API and records what it receives."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.ads import CampaignSpec
from bot.config import Settings
from bot.runtime import Runtime, open_runtime
from bot.whatsapp import WhatsAppBot, parse_delivery, signature_ok
from tests.support.fakes import FakeEngine
from tests.support.whatsapp import GraphStub, delivery, text

SECRET = "app-secret"
VERIFY = "verify-me"


@dataclass
class Harness:
    url: str
    graph: GraphStub
    bot: WhatsAppBot
    runtime: Runtime
    session: aiohttp.ClientSession

    async def post(self, payload: Any, *, secret: str = SECRET, raw: bytes | None = None,
                   signature: str | None = None, tamper: bool = False) -> int:
        body = raw if raw is not None else json.dumps(payload).encode()
        sig = signature or "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if tamper:
            body = body.replace(b"Hello", b"Hellp")
        headers = {"Content-Type": "application/json"}
        if signature != "":
            headers["X-Hub-Signature-256"] = sig
        async with self.session.post(f"{self.url}/webhook", data=body, headers=headers) as r:
            status = r.status
        await self.bot.idle()
        return status


async def start(settings: Settings, engine: Any = None) -> AsyncIterator[Harness]:
    graph = GraphStub()
    graph_app = web.Application()
    graph_app.router.add_post("/{phone}/messages", graph.handle)
    graph_server = TestServer(graph_app, host="127.0.0.1")
    await graph_server.start_server()
    settings = settings.model_copy(update={
        "whatsapp_verify_token": VERIFY, "whatsapp_app_secret": SECRET,
        "whatsapp_access_token": "token-123", "whatsapp_max_body_bytes": 64_000,
        "whatsapp_graph_url": str(graph_server.make_url("")).rstrip("/"),
        "whatsapp_retry_base_seconds": 0.01})
    settings = type(settings).model_validate(settings.model_dump())  # secrets as SecretStr
    async with open_runtime(settings, engine=engine) as runtime, aiohttp.ClientSession() as s:
        bot = WhatsAppBot(settings, runtime, s)
        server = TestServer(bot.app(), host="127.0.0.1")
        await server.start_server()
        try:
            yield Harness(str(server.make_url("")).rstrip("/"), graph, bot, runtime, s)
        finally:
            await server.close()
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
    assert await wa.runtime.store.claim_inbound("whatsapp", "wamid.SIG")  # never seen


async def test_oversize_and_malformed_bodies(wa: Harness) -> None:
    assert await wa.post(None, raw=b"{" + b" " * 70_000 + b"}") == 413
    assert await wa.post(None, raw=b"{not json") == 400
    assert await wa.post(None, raw=b"\xff\xfe\x00binary") == 400
    assert wa.graph.received == []


async def test_statuses_are_ignored_and_images_declined(wa: Harness) -> None:
    status = {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1764000001",
              "recipient_id": "33612345678"}
    assert await wa.post(delivery(statuses=[status])) == 200
    assert wa.graph.received == []
    image = {"from": "33612345678", "id": "wamid.IMG", "timestamp": "1764000002",
             "type": "image", "image": {"id": "MEDIA", "mime_type": "image/jpeg"}}
    assert await wa.post(delivery(image)) == 200
    assert wa.graph.texts() == ["I can only read text: image skipped."]


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
        end=date(2030, 1, 1))], actor="op")
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
    assert "new conversation" in wa.graph.texts()[-1]


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
