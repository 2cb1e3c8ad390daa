"""Idempotent inbound: each platform message id is processed once, by one process."""

from __future__ import annotations

from bot.store.common import StoreBase


class InboundMixin(StoreBase):
    """Processed inbound message ids."""

    async def claim_inbound(self, platform: str, message_id: str) -> bool:
        """True the first time an inbound message id is seen (by any process); False after."""
        async with self._transaction() as db:
            count = await db.execute(
                "INSERT INTO processed_inbound (platform, message_id, received_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (platform, message_id, self._now()))
            return count == 1
