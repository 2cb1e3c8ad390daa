"""The web console over a real SQLite store, with one HTTP client per identity
(anonymous, operator, advertisers A and B), each with its own cookie jar."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.config import Settings
from bot.money.ads import Ads, CampaignSpec
from bot.money.advertisers import add_advertiser
from bot.store import Store
from bot.web.app import build_app

ADMIN_TOKEN = "operator-token-for-tests-0123456789"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def form_csrf(client: TestClient[Any, Any], path: str) -> str:
    """The CSRF token of the form on `path`."""
    response = await client.get(path)
    found = CSRF.search(await response.text())
    assert found, f"no CSRF field on {path}"
    return found.group(1)


async def login(client: TestClient[Any, Any], token: str) -> ClientResponse:
    """Log in through the form, as a browser does (no redirect followed)."""
    csrf = await form_csrf(client, "/login")
    return await client.post("/login", data={"csrf": csrf, "token": token},
                             allow_redirects=False)


async def post(client: TestClient[Any, Any], path: str, data: dict[str, Any] | None = None,
               csrf_from: str = "/") -> ClientResponse:
    """A form POST carrying this session's CSRF token (taken from a page it can open)."""
    csrf = await form_csrf(client, csrf_from)
    return await client.post(path, data={"csrf": csrf, **(data or {})},
                             allow_redirects=False)


@dataclass
class Console:
    """The app, its store, and a logged-in client per identity."""

    settings: Settings
    store: Store
    server: TestServer
    anonymous: TestClient[Any, Any]
    operator: TestClient[Any, Any]
    a: TestClient[Any, Any]
    b: TestClient[Any, Any]
    a_token: str
    b_token: str
    a_campaign: int
    b_campaign: int

    async def client(self) -> TestClient[Any, Any]:
        """Another anonymous browser."""
        client = TestClient(self.server)
        await client.start_server()
        self._extra.append(client)
        return client

    _extra: list[TestClient[Any, Any]]


def spec(advertiser: str, **changes: Any) -> CampaignSpec:
    """A valid campaign running from yesterday for a month."""
    today = date.today()
    data: dict[str, Any] = {
        "advertiser": advertiser, "headline": f"{advertiser} pasta", "body": "Fresh pasta.",
        "url": "https://example.com/pasta", "keywords": ["pasta", "cook*"], "cpm": "5",
        "budget": "100", "start": today - timedelta(days=1), "end": today + timedelta(days=30)}
    return CampaignSpec.model_validate({**data, **changes})


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    """The test settings with an operator token."""
    return settings.model_copy(update={"web_admin_token": SecretStr(ADMIN_TOKEN)})


@pytest.fixture
async def console(web_settings: Settings) -> AsyncIterator[Console]:
    """Two advertisers (A, B), one campaign each, four clients logged in as named."""
    store = await Store.from_settings(web_settings)
    try:
        acme, a_token = await add_advertiser(store, "Acme", actor="test")
        bistro, b_token = await add_advertiser(store, "Bistro", actor="test")
        ads = Ads(web_settings, store)
        [a_campaign] = await ads.add([spec("Acme")], actor="test", advertiser_id=acme.id)
        [b_campaign] = await ads.add([spec("Bistro")], actor="test", advertiser_id=bistro.id)
        server = TestServer(build_app(web_settings, store))
        clients = [TestClient(server) for _ in range(4)]
        for client in clients:
            await client.start_server()
        anonymous, operator, a, b = clients
        for client, token in ((operator, ADMIN_TOKEN), (a, a_token), (b, b_token)):
            response = await login(client, token)
            assert response.status == 303, await response.text()
        console = Console(web_settings, store, server, anonymous, operator, a, b, a_token,
                          b_token, a_campaign, b_campaign, [])
        try:
            yield console
        finally:
            for client in clients + console._extra:
                await client.close()
    finally:
        await store.close()


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"
