"""SQLite: a read outside a transaction sees committed data only, never what another
coroutine's open transaction has written so far (issue 26.16)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.store import Store

DAY = "2026-03-02"


async def test_a_read_never_sees_a_transaction_that_is_still_open(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "reads.db")
    try:
        campaign = await store.add_campaign(
            advertiser="Acme", headline="h", body="", url="https://x.example",
            keywords=["pasta"], categories=[], languages=["en"], cpm_micros=5000,
            budget_micros=1_000_000, daily_budget_micros=None, start_at="2026-03-01",
            end_at="2026-04-01", status="active", guild_id=None, created_by="test")
        written, release = asyncio.Event(), asyncio.Event()

        async def charge_that_fails() -> None:
            async with store.driver.transaction() as db:
                await db.execute(
                    "INSERT INTO impressions (campaign_id, user_id, platform, matched, "
                    "cost_micros, day, at) VALUES (?, NULL, 'local', 'pasta', 5000, ?, ?)",
                    (campaign, DAY, DAY))
                written.set()
                await release.wait()
                raise RuntimeError("the delivery failed: rolled back")

        task = asyncio.create_task(charge_that_fails())
        await written.wait()
        # Mid-charge: the day's spend is what was committed, not the pending row.
        assert await store.day_spend(campaign, DAY) == 0
        release.set()
        with pytest.raises(RuntimeError):
            await task
        assert await store.day_spend(campaign, DAY) == 0
        # A committed charge is seen by the next read at once.
        assert await store.charge_impression(campaign, 5000, user_id=None,  # type: ignore[arg-type]
                                             platform="local", matched="pasta", day=DAY)
        assert await store.day_spend(campaign, DAY) == 5000
    finally:
        await store.close()
