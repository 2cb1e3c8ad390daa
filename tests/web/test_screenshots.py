"""The README's screenshots stay reproducible: the demo database seeds through the
store's public methods into figures every photographed page shows, and, where chromium
is installed, `python -m bot.web.screenshots` writes the four PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.store import Store, utc_now
from bot.web.app import build_app
from bot.web.screenshots import (
    DAYS,
    DEMO_TOKEN,
    DemoClock,
    chromium,
    demo_settings,
    make_screenshots,
    seed,
)
from tests.web.conftest import login


async def test_the_demo_database_fills_every_photographed_page(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path / "demo.db")
    assert settings.database_url is None and settings.database_path == tmp_path / "demo.db"
    clock = DemoClock()
    store = await Store.open(settings.database_path, clock=clock)
    try:
        today = utc_now().date()  # the console's "today" is the store's (UTC)
        demo = await seed(store, settings, clock, today)
        assert clock.fixed is None  # the console then runs on the real time
        figures = await store.stats(today.isoformat())
        assert figures["users"] == 6 and figures["whatsapp_failed"] == 1
        assert figures["engine_events_today"] == {"engine_stopped": 1, "engine_restarted": 1}
        assert figures["moderated_today"]
        assert figures["active_grants"] == {"plus": 2, "pro": 1}
        [day] = await store.daily_figures(today.isoformat())
        assert day.answers > 0 and day.refused > 0
        speeds = await store.answer_speeds("2000-01-01")
        assert len(speeds) == DAYS and all(d.tokens_per_second and d.first_token_ms
                                           and d.queue_depth_max is not None for d in speeds)
        [report] = [r for r in await store.campaign_days() if r.campaign_id == demo.campaign_id
                    and r.day == today.isoformat()]
        assert report.impressions > 0

        server = TestServer(build_app(settings, store))
        clients: list[TestClient[Any, Any]] = []
        for token in (DEMO_TOKEN, demo.advertiser_token):
            client = TestClient(server)
            await client.start_server()
            clients.append(client)
            assert (await login(client, token)).status == 303
        operator, advertiser = clients
        try:
            overview = await (await operator.get("/operator")).text()
            assert "restarted: 1, stopped: 1." in overview and "Retry" in overview
            campaigns = await (await operator.get("/operator/campaigns")).text()
            assert "Fresh pasta tonight" in campaigns and "Crime novels" in campaigns
            tiers = await (await operator.get("/operator/tiers")).text()
            assert "whatsapp:33612345678" in tiers and "community partner" in tiers
            page = await advertiser.get(f"/advertiser/campaigns/{demo.campaign_id}")
            assert page.status == 200 and "Fresh pasta tonight" in await page.text()
        finally:
            for client in clients:
                await client.close()
    finally:
        await store.close()


@pytest.mark.skipif(chromium() is None, reason="no chromium: the screenshots need a browser")
async def test_the_screenshots_are_written(tmp_path: Path) -> None:
    pytest.importorskip("playwright.async_api", reason="pip install -e '.[dev]'")
    shots = await make_screenshots(tmp_path, log=lambda _: None)
    assert sorted(p.name for p in shots) == [
        "advertiser-campaign.png", "campaigns.png", "overview.png", "tiers.png"]
    for shot in shots:
        assert shot.read_bytes().startswith(b"\x89PNG")
