"""Idempotent inbound: an id is claimed once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.support.clock import StoreOpener


async def test_an_inbound_id_is_claimed_once(open_store: StoreOpener) -> None:
    store = await open_store()
    claims = await asyncio.gather(*(store.claim_inbound("whatsapp", "wamid.1")
                                    for _ in range(10)))
    assert sum(claims) == 1
    assert await store.claim_inbound("whatsapp", "wamid.2")
