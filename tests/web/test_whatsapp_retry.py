"""The overview's Retry button on a failed WhatsApp delivery: the console hands the row
back to a real webhook (`WhatsAppBot`, answering through a recording Graph API stand-in),
whose next pick-up answers it exactly once, with the answer kept on the row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.config import Settings
from bot.money.advertisers import add_advertiser
from bot.web.app import build_app
from tests.support.fakes import FakeEngine
from tests.support.whatsapp import delivery, text
from tests.test_whatsapp import Harness, start
from tests.web.conftest import ADMIN_TOKEN, login, post


@pytest.fixture
async def wa(settings: Settings) -> AsyncIterator[Harness]:
    async for harness in start(settings, FakeEngine()):
        yield harness


async def _client(server: TestServer, token: str) -> TestClient[Any, Any]:
    client = TestClient(server)
    await client.start_server()
    response = await login(client, token)
    assert response.status == 303, await response.text()
    return client


async def test_retry_hands_the_row_to_the_webhook_which_answers_it_once(wa: Harness) -> None:
    wa.graph.text_failures = [(503, {})] * 4  # every try of WHATSAPP_SEND_ATTEMPTS fails
    assert await wa.post(delivery(text("wamid.WEB1", "Hello console"))) == 200
    assert (await wa.row("wamid.WEB1")).status == "failed"
    assert wa.graph.texts() == []

    # The console: another app over the same database, as `causette web` would be.
    settings = wa.settings.model_copy(update={"web_admin_token": SecretStr(ADMIN_TOKEN)})
    store = wa.runtime.store
    _, advertiser_token = await add_advertiser(store, "Acme", actor="test")
    server = TestServer(build_app(settings, store))
    operator = await _client(server, ADMIN_TOKEN)
    advertiser = await _client(server, advertiser_token)
    try:
        page = await (await operator.get("/operator")).text()
        assert "wamid.WEB1" in page and 'action="/operator/whatsapp/retry"' in page
        # Only an operator may press it (the advertiser's own CSRF token does not help).
        refused = await post(advertiser, "/operator/whatsapp/retry",
                             {"message_id": "wamid.WEB1"}, csrf_from="/advertiser")
        assert refused.status == 403
        assert (await wa.row("wamid.WEB1")).status == "failed"

        response = await post(operator, "/operator/whatsapp/retry",
                              {"message_id": "wamid.WEB1"}, csrf_from="/operator")
        assert response.status == 303
        shown = await (await operator.get(response.headers["Location"])).text()
        assert "handed back to the WhatsApp webhook" in shown
        row = await wa.row("wamid.WEB1")
        assert (row.status, row.owner, row.error) == ("pending", None, None)
        [entry] = await store.audit_log(limit=1)
        assert (entry.actor, entry.action, entry.subject) == (
            "operator:web", "inbound retry", "whatsapp:wamid.WEB1")

        # A second press (a double click, another operator) changes nothing.
        again = await post(operator, "/operator/whatsapp/retry",
                           {"message_id": "wamid.WEB1"}, csrf_from="/operator")
        assert "not a failed delivery" in await (
            await operator.get(again.headers["Location"])).text()
        missing = await post(operator, "/operator/whatsapp/retry", {"message_id": " "},
                             csrf_from="/operator")
        assert missing.status == 400

        # The webhook's periodic pick-up (called here rather than waited for) answers it:
        # the kept answer, sent once, the model not asked again.
        assert await wa.bot.pickup() == 1
        await wa.bot.idle()
        assert await wa.bot.pickup() == 0
        await wa.bot.idle()
        assert wa.graph.texts() == ["You said: Hello console"]
        assert len(wa.runtime.engine.prompts) == 1  # type: ignore[attr-defined]
        assert (await wa.row("wamid.WEB1")).status == "answered"
        page = await (await operator.get("/operator")).text()
        assert "wamid.WEB1" not in page
    finally:
        await operator.close()
        await advertiser.close()
