"""Saved memories (issue 16): a user's facts, and their memory and temporary-chat switches.

Every statement reads or writes one user's rows only, by the internal user id: a
memory is never looked up by anything another user could name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.store.base import Queries, iso
from bot.store.common import StoreBase, storable

MemorySource = Literal["explicit", "auto"]


@dataclass(frozen=True)
class Memory:
    """One saved fact."""

    id: int
    fact: str
    source: MemorySource
    saved_in: str  # the conversation key where it was saved ("dm", "guild:...", ...)
    created_at: str


@dataclass(frozen=True)
class MemorySettings:
    """The user's switches; the defaults are those of a user who never chose."""

    enabled: bool = True
    temporary: bool = False


class MemoriesMixin(StoreBase):
    """Memories per user, oldest first; the switches; counts for the operator."""

    async def add_memory(self, user_id: int, fact: str, source: MemorySource, saved_in: str,
                         limit: int) -> Memory | None:
        """Save a fact unless the user already has `limit` of them (None then).

        The count and the insert run in one transaction under the user's lock, so two
        saves at once cannot pass the limit together."""
        async with self._transaction() as db:
            await db.lock(f"memories:{user_id}")
            row = await db.fetchrow("SELECT COUNT(*) FROM memories WHERE user_id = ?",
                                    (user_id,))
            if row is not None and int(row[0]) >= limit:
                return None
            now = self._now()
            memory_id = await self._insert(
                db, "INSERT INTO memories (user_id, fact, source, saved_in, created_at) "
                "VALUES (?, ?, ?, ?, ?)", (user_id, storable(fact), source, saved_in, now))
        return Memory(memory_id, fact, source, saved_in, now)

    async def memories(self, user_id: int) -> list[Memory]:
        """The user's memories, oldest first (the numbering users see)."""
        rows = await self._db.rows(
            "SELECT id, fact, source, saved_in, created_at FROM memories WHERE user_id = ? "
            "ORDER BY id", (user_id,))
        return [Memory(int(str(r["id"])), str(r["fact"]), r["source"],  # type: ignore[arg-type]
                       str(r["saved_in"]), str(r["created_at"])) for r in rows]

    async def forget_memory(self, user_id: int, memory_id: int) -> bool:
        """Delete one of the user's memories (never someone else's)."""
        async with self._transaction() as db:
            return await db.execute("DELETE FROM memories WHERE user_id = ? AND id = ?",
                                    (user_id, memory_id)) > 0

    async def clear_memories(self, user_id: int) -> int:
        """Delete all of the user's memories; how many there were."""
        async with self._transaction() as db:
            return await db.execute("DELETE FROM memories WHERE user_id = ?", (user_id,))

    async def memory_settings(self, user_id: int) -> MemorySettings:
        """The user's memory and temporary-chat switches."""
        row = await self._db.fetchrow(
            "SELECT enabled, temporary FROM memory_settings WHERE user_id = ?", (user_id,))
        return MemorySettings(bool(row[0]), bool(row[1])) if row else MemorySettings()

    async def set_memory_settings(self, user_id: int, *, enabled: bool | None = None,
                                  temporary: bool | None = None) -> MemorySettings:
        """Change one or both switches (None keeps it); returns the switches now."""
        async with self._transaction() as db:
            await db.lock(f"memories:{user_id}")
            row = await db.fetchrow(
                "SELECT enabled, temporary FROM memory_settings WHERE user_id = ?", (user_id,))
            current = MemorySettings(bool(row[0]), bool(row[1])) if row else MemorySettings()
            chosen = MemorySettings(current.enabled if enabled is None else enabled,
                                    current.temporary if temporary is None else temporary)
            await db.execute(
                "INSERT INTO memory_settings (user_id, enabled, temporary, set_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "enabled = excluded.enabled, temporary = excluded.temporary, "
                "set_at = excluded.set_at",
                (user_id, int(chosen.enabled), int(chosen.temporary), self._now()))
        return chosen

    # For privacy (export, forget, retention) and the operator's figures -------------

    async def _export_memories(self, user_id: int) -> dict[str, object]:
        settings = await self.memory_settings(user_id)
        return {
            "memories": await self._db.rows(
                "SELECT fact, source, saved_in, created_at FROM memories WHERE user_id = ? "
                "ORDER BY id", (user_id,)),
            "memory_settings": {"enabled": settings.enabled, "temporary": settings.temporary},
        }

    async def _forget_memories(self, db: Queries, user_id: int) -> int:
        await db.execute("DELETE FROM memory_settings WHERE user_id = ?", (user_id,))
        return await db.execute("DELETE FROM memories WHERE user_id = ?", (user_id,))

    async def _purge_memories(self, db: Queries, cutoff: datetime) -> int:
        return await db.execute("DELETE FROM memories WHERE created_at < ?", (iso(cutoff),))

    async def memory_counts(self) -> dict[str, int]:
        """How many memories are kept, and for how many users: counts, never facts."""
        row = await self._db.fetchrow(
            "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM memories")
        return {"memories": int(row[0] or 0) if row else 0,
                "memory_users": int(row[1] or 0) if row else 0}
