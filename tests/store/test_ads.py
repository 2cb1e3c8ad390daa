"""Sponsored replies: budgets under concurrency, clicks and reports, on both databases."""

from __future__ import annotations

import asyncio

from tests.support.clock import StoreOpener
from tests.support.store import campaign


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
