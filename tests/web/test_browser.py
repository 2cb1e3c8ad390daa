"""The console in a real browser (Playwright driving Debian's chromium) over the real
model: an operator creates an advertiser and its campaign, a real sponsored reply is
charged, the advertiser sees it and pauses it, the operator exports a user's data, and
no page logs a console error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.pipeline.replies import Inbound
from bot.pipeline.runtime import Runtime
from bot.web.app import build_app
from bot.web.screenshots import CHROMIUM_ARGS, chromium
from tests.web.conftest import ADMIN_TOKEN

# Debian's path, else whichever chromium is on PATH (None: the tests are skipped); the
# launch arguments are those the README's screenshots are taken with.
EXECUTABLE = chromium()

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install -e '.[dev]'")
pytestmark = pytest.mark.skipif(
    EXECUTABLE is None,
    reason="no chromium: `./setup.sh dev` installs it as root, else sudo apt-get install chromium")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless chromium from Debian's package."""
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=EXECUTABLE,
                                                    args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


async def _login(context: Any, base: str, token: str) -> Watched:
    watched = Watched(await context.new_page())
    await watched.page.goto(f"{base}/login")
    await watched.page.fill("input[name=token]", token)
    await watched.page.click("button[type=submit]")
    return watched


async def test_operator_and_advertiser_in_a_browser(runtime: Runtime, browser: Any,
                                                    tmp_path: Path) -> None:
    settings = runtime.settings.model_copy(update={"web_admin_token": SecretStr(ADMIN_TOKEN)})
    server = TestServer(build_app(settings, runtime.store))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        operator_context = await browser.new_context(accept_downloads=True)
        operator = await _login(operator_context, base, ADMIN_TOKEN)
        page = operator.page
        assert await page.locator("h1").inner_text() == "Overview"

        # An advertiser account; its token is on the page once.
        await page.click("text=Campaigns")
        await page.fill("input[name=name]", "Trattoria")
        await page.click("text=Add advertiser")
        token = await page.locator("code.token").inner_text()

        # Its campaign, through the form (the server validates it).
        await page.click("text=New campaign")
        await page.select_option("select[name=advertiser]", "Trattoria")
        await page.fill("input[name=headline]", "Fresh pasta tonight")
        await page.fill("input[name=url]", "https://trattoria.example/menu")
        await page.fill("input[name=keywords]", "pasta, cook*")
        await page.fill("input[name=budget]", "50")
        await page.click("button:has-text('Create')")
        assert "campaign created" in await page.locator(".notice").inner_text()
        assert "Sponsored · Trattoria" in await page.locator("pre.block").inner_text()

        # A real answer from the real model, then the sponsored block, delivered and charged.
        inbound = Inbound("local", "ada", "t", "How do I cook pasta?")
        reply = await runtime.assistant.handle(inbound)
        assert (await reply.outcome()).status == "complete"
        offer = await runtime.assistant.sponsored(inbound, reply)
        assert offer is not None and offer.campaign.advertiser == "Trattoria"
        assert await runtime.assistant.ads.delivered(offer) is not None

        # The advertiser, in its own browser context, sees the impression and pauses it.
        advertiser = await _login(await browser.new_context(), base, token)
        ad_page = advertiser.page
        row = ad_page.locator("tbody tr", has_text="Fresh pasta tonight")
        assert "active" in await row.inner_text()
        assert (await row.locator("td").nth(3).inner_text()) == "1"  # impressions
        await ad_page.click("text=Fresh pasta tonight")
        assert "1 impressions, 0 clicks" in await ad_page.locator("main p").first.inner_text()
        await ad_page.wait_for_load_state("load")  # the chart PNG included
        assert await ad_page.locator("img[alt^='Impressions']").evaluate(
            "img => img.complete && img.naturalWidth > 0")
        await ad_page.click("button:has-text('Pause')")
        assert "campaign paused" in await ad_page.locator(".notice").inner_text()
        assert offer.campaign.id == (await runtime.store.advertiser_campaigns(1))[0].id
        paused = await runtime.store.campaign(offer.campaign.id)
        assert paused is not None and paused.status == "paused"

        # The operator sees it paused, and exports ada's data as a JSON download.
        await page.click("text=Campaigns")
        assert "paused" in await page.locator("tbody tr", has_text="Trattoria").inner_text()
        await page.click("text=Privacy")
        await page.locator("form[action='/operator/privacy/export'] input[name=user]").fill(
            "local:ada")
        async with page.expect_download() as download_info:
            await page.click("text=Download JSON")
        download = await download_info.value
        target = tmp_path / "export.json"
        await download.save_as(target)
        data = json.loads(target.read_text(encoding="utf-8"))
        assert data["user_ref"] == "local:ada"
        assert data["ad_impressions"][0]["advertiser"] == "Trattoria"

        # Every page of both, and none logged a console error.
        for path in ("/operator", "/operator/tiers", "/operator/campaigns",
                     f"/operator/campaigns/{offer.campaign.id}", "/operator/privacy"):
            await page.goto(base + path)
        await ad_page.goto(base + "/advertiser")
        assert operator.errors == [] and advertiser.errors == []
    finally:
        await server.close()
