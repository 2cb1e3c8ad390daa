"""Users, their conversations and the conversations' messages (the turns)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.store.base import Queries, iso
from bot.store.common import StoreBase, storable

Role = Literal["user", "assistant"]
# refused: a user's turn that moderation kept from the model; moderated: an answer
# withheld because it fell under a refused category (the category in `moderation`).
MessageStatus = Literal["complete", "streaming", "cancelled", "failed", "interrupted",
                        "refused", "moderated"]


@dataclass(frozen=True)
class StoredMessage:
    """One turn of a conversation as stored."""

    id: int
    conversation_id: int
    role: Role
    content: str
    status: MessageStatus
    prompt_tokens: int | None
    completion_tokens: int | None
    stop_reason: str | None
    created_at: str
    moderation: str | None = None  # the categories, comma separated, when refused/moderated


class ConversationsMixin(StoreBase):
    """Users, conversations and messages."""

    async def mark_interrupted(self, untouched_since: datetime | None = None) -> int:
        """Mark answers left streaming by a crash as interrupted; return how many.

        With `untouched_since`, only those not checkpointed since then (other live
        processes may be streaming the rest)."""
        sql = ("UPDATE messages SET status = 'interrupted', updated_at = ? "
               "WHERE status = 'streaming'")
        params: list[object] = [self._now()]
        if untouched_since is not None:
            sql += " AND updated_at < ?"
            params.append(iso(untouched_since))
        async with self._transaction() as db:
            return int(await db.execute(sql, params))

    async def sweep_interrupted(self) -> int:
        """Mark the answers of processes that died as interrupted (the driver says which:
        all at a SQLite open, only long-untouched ones on a shared PostgreSQL)."""
        return await self.mark_interrupted(self.driver.stale_streaming_cutoff(self.now()))

    async def ensure_user(self, platform: str, external_id: str) -> int:
        """The internal id of a platform user, created on first sight."""
        # Read first: on every message's path, a write transaction (and its commit)
        # only when the user is new.
        row = await self._db.fetchrow(
            "SELECT id FROM users WHERE platform = ? AND external_id = ?",
            (platform, external_id))
        if row is not None:
            return int(row[0])
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO users (platform, external_id, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (platform, external_id) DO NOTHING",
                (platform, external_id, self._now()))
            row = await db.fetchrow(
                "SELECT id FROM users WHERE platform = ? AND external_id = ?",
                (platform, external_id))
        assert row is not None
        return int(row[0])

    async def open_conversation(self, user_id: int, key: str) -> int:
        """The user's open conversation under `key`, started if there is none."""
        row = await self._db.fetchrow(  # read first, as ensure_user
            "SELECT id FROM conversations WHERE user_id = ? AND key = ? AND closed_at IS NULL",
            (user_id, key))
        if row is not None:
            return int(row[0])
        async with self._transaction() as db:
            return await self._open_conversation(db, user_id, key)

    async def _open_conversation(self, db: Queries, user_id: int, key: str) -> int:
        # The partial unique index makes a concurrent start (another process) a no-op.
        await db.execute(
            "INSERT INTO conversations (user_id, key, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, key) WHERE closed_at IS NULL DO NOTHING",
            (user_id, key, self._now()))
        row = await db.fetchrow(
            "SELECT id FROM conversations WHERE user_id = ? AND key = ? AND closed_at IS NULL",
            (user_id, key))
        assert row is not None
        return int(row[0])

    async def reset_conversation(self, user_id: int, key: str) -> int:
        """Close the open conversation (kept in the database) and start a new one."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE conversations SET closed_at = ? "
                "WHERE user_id = ? AND key = ? AND closed_at IS NULL",
                (self._now(), user_id, key))
            return await self._open_conversation(db, user_id, key)

    async def add_message(self, conversation_id: int, role: Role, content: str, *,
                          status: MessageStatus = "complete",
                          prompt_tokens: int | None = None,
                          moderation: str | None = None) -> int:
        """Append a turn; committed before this returns."""
        now = self._now()
        async with self._transaction() as db:
            return await self._insert(
                db, "INSERT INTO messages (conversation_id, role, content, status, "
                "prompt_tokens, moderation, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, storable(content), status, prompt_tokens, moderation,
                 now, now))

    async def finish_message(self, message_id: int, content: str, status: MessageStatus, *,
                             prompt_tokens: int | None = None,
                             completion_tokens: int | None = None,
                             stop_reason: str | None = None,
                             moderation: str | None = None,
                             first_token_ms: int | None = None,
                             queue_depth: int | None = None) -> None:
        """Record how an assistant turn ended, with its text so far (and, once known, how
        long its first token took and how many requests waited before it)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE messages SET content = ?, status = ?, "
                "prompt_tokens = COALESCE(?, prompt_tokens), completion_tokens = ?, "
                "stop_reason = ?, moderation = COALESCE(?, moderation), "
                "first_token_ms = COALESCE(?, first_token_ms), "
                "queue_depth = COALESCE(?, queue_depth), updated_at = ? WHERE id = ?",
                (storable(content), status, prompt_tokens, completion_tokens, stop_reason,
                 moderation, first_token_ms, queue_depth, self._now(), message_id))

    async def set_message_status(self, message_id: int, status: MessageStatus,
                                 stop_reason: str | None = None) -> None:
        """Change a stored turn's status (e.g. an answer that could not be delivered)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE messages SET status = ?, stop_reason = COALESCE(?, stop_reason), "
                "updated_at = ? WHERE id = ?", (status, stop_reason, self._now(), message_id))

    _MESSAGE_COLUMNS = ("id, conversation_id, role, content, status, prompt_tokens, "
                        "completion_tokens, stop_reason, created_at, moderation")

    async def messages(self, conversation_id: int, *, limit: int | None = None
                       ) -> list[StoredMessage]:
        """A conversation's turns, oldest first; with `limit`, only the newest ones."""
        sql = (f"SELECT {self._MESSAGE_COLUMNS} FROM messages "
               "WHERE conversation_id = ? ORDER BY id DESC")
        params: tuple[object, ...] = (conversation_id,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        rows = await self._db.fetch(sql, params)
        return [StoredMessage(*row) for row in reversed(rows)]

    async def message(self, message_id: int) -> StoredMessage | None:
        """One stored turn by id."""
        row = await self._db.fetchrow(
            f"SELECT {self._MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return StoredMessage(*row) if row else None
