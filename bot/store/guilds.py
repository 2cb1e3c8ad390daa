"""Discord server settings: allow/block rules and channel prompts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.store.common import StoreBase, storable


@dataclass(frozen=True)
class GuildRule:
    """One allow/block rule of a Discord server."""

    kind: Literal["channel", "role", "user"]
    target_id: str
    mode: Literal["allow", "block"]


class GuildsMixin(StoreBase):
    """Discord server settings."""

    async def set_guild_rule(self, guild_id: str, kind: str, target_id: str,
                             mode: str | None, set_by: str) -> None:
        """Allow or block a channel/role/user in a server; mode None clears the rule."""
        async with self._transaction() as db:
            if mode is None:
                await db.execute(
                    "DELETE FROM guild_rules WHERE guild_id = ? AND kind = ? AND target_id = ?",
                    (guild_id, kind, target_id))
            else:
                await db.execute(
                    "INSERT INTO guild_rules (guild_id, kind, target_id, mode, set_by, set_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, kind, target_id) "
                    "DO UPDATE SET mode = excluded.mode, set_by = excluded.set_by, "
                    "set_at = excluded.set_at",
                    (guild_id, kind, target_id, mode, set_by, self._now()))

    async def guild_rules(self, guild_id: str) -> list[GuildRule]:
        """A server's rules."""
        rows = await self._db.fetch(
            "SELECT kind, target_id, mode FROM guild_rules WHERE guild_id = ? "
            "ORDER BY kind, target_id", (guild_id,))
        return [GuildRule(*row) for row in rows]

    async def set_channel_prompt(self, guild_id: str, channel_id: str, prompt: str | None,
                                 set_by: str) -> None:
        """Set (or with None, clear) the system prompt of a channel."""
        async with self._transaction() as db:
            if prompt is None:
                await db.execute(
                    "DELETE FROM channel_prompts WHERE guild_id = ? AND channel_id = ?",
                    (guild_id, channel_id))
            else:
                await db.execute(
                    "INSERT INTO channel_prompts (guild_id, channel_id, prompt, set_by, set_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, channel_id) DO UPDATE SET "
                    "prompt = excluded.prompt, set_by = excluded.set_by, set_at = excluded.set_at",
                    (guild_id, channel_id, storable(prompt), set_by, self._now()))

    async def channel_prompts(self, guild_id: str) -> dict[str, str]:
        """A server's channel prompts by channel id."""
        rows = await self._db.fetch(
            "SELECT channel_id, prompt FROM channel_prompts WHERE guild_id = ?", (guild_id,))
        return {str(row[0]): str(row[1]) for row in rows}

    async def set_guild_moderation(self, guild_id: str, categories: list[str] | None,
                                   set_by: str) -> None:
        """The moderation categories a server refuses (None: back to the default)."""
        async with self._transaction() as db:
            if categories is None:
                await db.execute("DELETE FROM guild_moderation WHERE guild_id = ?",
                                 (guild_id,))
            else:
                await db.execute(
                    "INSERT INTO guild_moderation (guild_id, categories, set_by, set_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET "
                    "categories = excluded.categories, set_by = excluded.set_by, "
                    "set_at = excluded.set_at",
                    (guild_id, ",".join(sorted(set(categories))), set_by, self._now()))

    async def guild_moderation(self, guild_id: str) -> list[str] | None:
        """The categories a server chose to refuse, or None when it never chose."""
        row = await self._db.fetchrow(
            "SELECT categories FROM guild_moderation WHERE guild_id = ?", (guild_id,))
        if row is None:
            return None
        return [c for c in str(row[0]).split(",") if c]
