"""What the store's tests share: a fixed moment, and an active campaign to charge."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def campaign(store: Store, budget_micros: int, cpm_micros: int = 1_000_000,
                   daily_micros: int | None = None) -> int:
    return await store.add_campaign(
        advertiser="Pasta Bella", headline="Fresh pasta", body="At your door.",
        url="https://pasta.example", keywords=["pasta"], categories=[], languages=["en"],
        cpm_micros=cpm_micros, budget_micros=budget_micros, daily_budget_micros=daily_micros,
        start_at="2026-01-01", end_at="2027-01-01", status="active", guild_id=None,
        created_by="test")

