"""Inbound messages, at least once and answered once (issue 14).

A webhook stores each verified message as `pending` in the transaction that dedups its
platform id, before it tells the platform "received". The process that stored it owns
it: `owner` plus a lease (`lease_until`) that the owner renews while it works. The
answer is composed, kept on the row (`reply`), sent, and only then is the row
`answered`; when sending kept failing it is `failed`, with the reason, until an
operator retries it.

Every write on a row being answered names its owner and `status = 'pending'` in its
WHERE clause: a process that lost the row (its lease ran out and another took it)
changes nothing and learns so from the row count. Taking a row is one UPDATE whose
WHERE clause re-checks the owner and lease, so of several processes on one PostgreSQL
exactly one takes it: a second UPDATE waits for the first's row lock, then finds the
row owned and leased, and leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.store.base import Queries, iso
from bot.store.common import StoreBase, storable

InboundStatus = Literal["pending", "answered", "failed"]

# The kind of a row whose text is not kept (a temporary chat's): nothing left to read.
FORGOTTEN = "temporary"

# A row taken this many times whose answer never ended (each time its process died) is
# failed instead: a message that crashes the process must not crash every restart.
MAX_TAKES = 5


@dataclass(frozen=True)
class NewInbound:
    """A verified inbound message, as the webhook stores it."""

    message_id: str
    sender: str
    channel: str  # where it arrived and where the answer goes (WhatsApp: phone number id)
    kind: str
    body: str | None


@dataclass(frozen=True)
class InboundMessage:
    """A stored inbound message and how far its answer got."""

    platform: str
    message_id: str
    status: InboundStatus
    sender: str | None
    channel: str | None
    kind: str | None
    body: str | None
    reply: str | None
    reply_message_id: int | None
    sent_parts: int
    attempts: int
    owner: str | None
    error: str | None
    received_at: str
    # What an earlier attempt did (a row taken over after a crash): the user's stored
    # turn, and whether the message was counted against the quota.
    user_message_id: int | None = None
    admitted: bool = False


_COLUMNS = ("platform, message_id, status, sender, channel, kind, body, reply, "
            "reply_message_id, sent_parts, attempts, owner, error, received_at, "
            "user_message_id, admitted")


def _row(values: Sequence[object]) -> InboundMessage:
    """A stored row as an InboundMessage (`admitted` is 0/1 in SQL)."""
    *head, admitted = values
    return InboundMessage(*head, admitted=bool(admitted))  # type: ignore[arg-type]

# Pending and either unowned, past its lease, or owned by a process known to be dead.
_ORPHAN = "status = 'pending' AND (owner IS NULL OR lease_until < ?{dead})"


def _orphan(now: str, dead_owners: Sequence[str]) -> tuple[str, list[object]]:
    """The orphan condition and its parameters (an empty IN () is not SQL)."""
    dead = f" OR owner IN ({', '.join('?' * len(dead_owners))})" if dead_owners else ""
    return _ORPHAN.format(dead=dead), [now, *dead_owners]


class InboundMixin(StoreBase):
    """Inbound messages: stored before they are acknowledged, answered once."""

    def _lease(self, lease_s: float) -> str:
        return iso(self.now() + timedelta(seconds=lease_s))

    async def claim_inbound(self, platform: str, message_id: str) -> bool:
        """True the first time an inbound id is seen (by any process); False after.

        Dedup only, for callers that answer at once and keep nothing: the row is
        recorded as answered."""
        async with self._transaction() as db:
            count = await db.execute(
                "INSERT INTO processed_inbound (platform, message_id, received_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (platform, message_id, self._now()))
            return count == 1

    async def accept_inbound(self, platform: str, messages: Sequence[NewInbound], *,
                             owner: str, lease_s: float) -> list[InboundMessage]:
        """Store the messages of one delivery as pending, owned by `owner`, in one
        transaction; return those never seen before (the others are duplicates)."""
        now = self._now()
        stored: list[InboundMessage] = []
        async with self._transaction() as db:
            for m in messages:
                row = await db.fetchrow(
                    "INSERT INTO processed_inbound (platform, message_id, received_at, status, "
                    "sender, channel, kind, body, attempts, owner, lease_until, updated_at) "
                    "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, 1, ?, ?, ?) "
                    f"ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
                    (platform, m.message_id, now, m.sender, m.channel, m.kind,
                     None if m.body is None else storable(m.body), owner,
                     self._lease(lease_s), now))
                if row is not None:
                    stored.append(_row(row))
        return stored

    async def pending_owners(self, platform: str) -> list[str]:
        """The processes holding pending rows under a lease (to check which are alive)."""
        rows = await self._db.fetch(
            "SELECT DISTINCT owner FROM processed_inbound WHERE platform = ? AND "
            "status = 'pending' AND owner IS NOT NULL AND lease_until >= ?",
            (platform, self._now()))
        return [str(owner) for (owner,) in rows]

    async def take_orphans(self, platform: str, *, owner: str, lease_s: float, limit: int,
                           dead_owners: Sequence[str] = ()) -> list[InboundMessage]:
        """Take up to `limit` pending rows whose owner is gone (none, lease over, or in
        `dead_owners`), oldest first. Rows taken MAX_TAKES times already are failed."""
        now = self._now()
        orphan, params = _orphan(now, dead_owners)
        async with self._transaction() as db:
            await db.execute(
                "UPDATE processed_inbound SET status = 'failed', owner = NULL, "
                "error = ?, updated_at = ? "
                f"WHERE platform = ? AND attempts >= ? AND {orphan}",
                (f"gave up after {MAX_TAKES} tries that never ended (the process died "
                 "each time)", now, platform, MAX_TAKES, *params))
            rows = await db.fetch(
                "UPDATE processed_inbound SET owner = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? "
                f"WHERE platform = ? AND {orphan} AND message_id IN ("
                "SELECT message_id FROM processed_inbound "
                f"WHERE platform = ? AND {orphan} ORDER BY received_at LIMIT ?) "
                f"RETURNING {_COLUMNS}",
                (owner, self._lease(lease_s), now, platform, *params, platform, *params,
                 limit))
        return sorted((_row(row) for row in rows), key=lambda m: m.received_at)

    async def retry_failed(self, platform: str, message_ids: Sequence[str] | None, *,
                           owner: str, lease_s: float) -> list[InboundMessage]:
        """Take failed rows back as pending, owned by `owner`: those named, or all of
        them (None). One UPDATE: of two operators retrying at once, one takes each."""
        now = self._now()
        sql = ("UPDATE processed_inbound SET status = 'pending', owner = ?, lease_until = ?, "
               "attempts = 1, error = NULL, updated_at = ? "
               "WHERE platform = ? AND status = 'failed'")
        params: list[object] = [owner, self._lease(lease_s), now, platform]
        if message_ids is not None:
            if not message_ids:
                return []
            sql += f" AND message_id IN ({', '.join('?' * len(message_ids))})"
            params.extend(message_ids)
        async with self._transaction() as db:
            rows = await db.fetch(f"{sql} RETURNING {_COLUMNS}", params)
        return sorted((_row(row) for row in rows), key=lambda m: m.received_at)

    async def requeue_failed(self, platform: str, message_id: str, *, actor: str) -> bool:
        """Hand a failed row back to the running webhook: pending, with no owner and no
        lease, so its next pick-up (`take_orphans`) answers it, once, in whichever
        process takes it. For a process that holds neither the model nor the platform's
        token (the web console). False when the row is not failed (already requeued,
        answered, unknown). Audited in the same transaction.

        `attempts` starts again from 0 (the pick-up counts 1): the earlier tries failed
        to send, they did not crash a process, so they must not count towards MAX_TAKES.
        A kept reply and the parts already sent stay: the pick-up sends only the rest,
        without asking the model again."""
        async with self._transaction() as db:
            changed = await db.execute(
                "UPDATE processed_inbound SET status = 'pending', owner = NULL, "
                "lease_until = NULL, attempts = 0, error = NULL, updated_at = ? "
                "WHERE platform = ? AND message_id = ? AND status = 'failed'",
                (self._now(), platform, message_id)) == 1
            if changed:
                await self._audit(db, actor, "inbound retry", f"{platform}:{message_id}",
                                  "handed back to the webhook's pick-up", "")
            return changed

    async def renew_inbound(self, platform: str, message_ids: Sequence[str], *, owner: str,
                            lease_s: float) -> set[str]:
        """Extend the lease of rows `owner` still holds; return the ids it holds."""
        held: set[str] = set()
        ids = list(message_ids)
        if not ids:
            return held
        async with self._transaction() as db:
            for start in range(0, len(ids), 500):  # bounded statements, however many
                chunk = ids[start:start + 500]
                rows = await db.fetch(
                    "UPDATE processed_inbound SET lease_until = ? WHERE platform = ? AND "
                    "owner = ? AND status = 'pending' AND message_id IN "
                    f"({', '.join('?' * len(chunk))}) RETURNING message_id",
                    (self._lease(lease_s), platform, owner, *chunk))
                held.update(str(message_id) for (message_id,) in rows)
        return held

    async def keep_turn(self, platform: str, message_id: str, *, owner: str,
                        user_message_id: int | None, lease_s: float) -> bool:
        """Record, before the answer is generated, that the user's turn is stored (its
        id; None in a temporary chat) and the message counted against the quota: a
        process that takes the row over after a crash does neither again. False when
        `owner` no longer holds the row."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE processed_inbound SET user_message_id = ?, admitted = 1, "
                "lease_until = ?, updated_at = ? WHERE platform = ? AND message_id = ? AND "
                "owner = ? AND status = 'pending'",
                (user_message_id, self._lease(lease_s), self._now(), platform, message_id,
                 owner)) == 1

    async def keep_reply(self, platform: str, message_id: str, *, owner: str, reply: str,
                         reply_message_id: int | None, lease_s: float,
                         temporary: bool = False) -> bool:
        """Keep the composed answer on the row; False when `owner` no longer holds it.

        In a temporary chat the body goes now (the answer is composed) and the reply
        stays only while it is sent: `finish_inbound` clears it however it ends."""
        forget = f", body = NULL, kind = '{FORGOTTEN}'" if temporary else ""
        async with self._transaction() as db:
            return await db.execute(
                f"UPDATE processed_inbound SET reply = ?, reply_message_id = ?{forget}, "
                "lease_until = ?, updated_at = ? WHERE platform = ? AND message_id = ? AND "
                "owner = ? AND status = 'pending'",
                (storable(reply), reply_message_id, self._lease(lease_s), self._now(),
                 platform, message_id, owner)) == 1

    async def parts_sent(self, platform: str, message_id: str, *, owner: str, parts: int,
                         lease_s: float) -> bool:
        """Record that the platform accepted the first `parts` parts of the answer."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE processed_inbound SET sent_parts = ?, lease_until = ?, updated_at = ? "
                "WHERE platform = ? AND message_id = ? AND owner = ? AND status = 'pending'",
                (parts, self._lease(lease_s), self._now(), platform, message_id, owner)) == 1

    async def finish_inbound(self, platform: str, message_id: str, *, owner: str,
                             status: Literal["answered", "failed"], error: str | None = None,
                             keep_text: bool = True) -> bool:
        """End the row as answered (who wrote what is cleared: the conversation keeps
        it) or failed (kept, with the reason, for a retry; without what was written and
        answered when not `keep_text`, as in a temporary chat)."""
        clear = (", sender = NULL, channel = NULL, body = NULL, reply = NULL"
                 if status == "answered" else
                 "" if keep_text else f", body = NULL, reply = NULL, kind = '{FORGOTTEN}'")
        async with self._transaction() as db:
            return await db.execute(
                f"UPDATE processed_inbound SET status = ?, error = ?, owner = NULL, "
                f"lease_until = NULL, updated_at = ?{clear} WHERE platform = ? AND "
                "message_id = ? AND owner = ? AND status = 'pending'",
                (status, None if error is None else storable(error)[:1000], self._now(),
                 platform, message_id, owner)) == 1

    async def release_inbound(self, platform: str, message_id: str, *, owner: str) -> bool:
        """Give a pending row back unowned, for the next pick-up (e.g. at shutdown)."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE processed_inbound SET owner = NULL, lease_until = NULL, updated_at = ? "
                "WHERE platform = ? AND message_id = ? AND owner = ? AND status = 'pending'",
                (self._now(), platform, message_id, owner)) == 1

    async def inbound_message(self, platform: str, message_id: str) -> InboundMessage | None:
        """One stored inbound message."""
        row = await self._db.fetchrow(
            f"SELECT {_COLUMNS} FROM processed_inbound WHERE platform = ? AND message_id = ?",
            (platform, message_id))
        return _row(row) if row else None

    async def inbound_by_status(self, status: InboundStatus, *, limit: int = 100
                                ) -> list[InboundMessage]:
        """Rows with a status, oldest first (e.g. the failed ones, for operators)."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM processed_inbound WHERE status = ? "
            "ORDER BY received_at, message_id LIMIT ?", (status, limit))
        return [_row(row) for row in rows]

    async def inbound_counts(self) -> dict[str, int]:
        """Rows not answered yet, by platform and status (`whatsapp_failed`, ...)."""
        rows = await self._db.fetch(
            "SELECT platform, status, COUNT(*) FROM processed_inbound "
            "WHERE status <> 'answered' GROUP BY platform, status")
        return {f"{platform}_{status}": int(count) for platform, status, count in rows}

    async def _export_inbound(self, platform: str, sender: str) -> list[dict[str, object]]:
        """A user's messages not answered yet, for their export."""
        return await self._db.rows(
            "SELECT message_id, status, kind, body, error, received_at FROM processed_inbound "
            "WHERE platform = ? AND sender = ? ORDER BY received_at", (platform, sender))

    async def _purge_inbound(self, db: Queries, cutoff: str) -> int:
        """Within retention: delete the rows answered or failed before `cutoff` (what a
        failed one kept of a conversation goes with the conversation's age)."""
        return await db.execute(
            "DELETE FROM processed_inbound WHERE status IN ('answered', 'failed') AND "
            "received_at < ?", (cutoff,))

    async def _forget_inbound(self, db: Queries, platform: str, sender: str) -> int:
        """Within forgetting a user: delete their failed rows (the only ones that keep
        what they wrote for long; pending ones are being answered and cleared then)."""
        return await db.execute(
            "DELETE FROM processed_inbound WHERE platform = ? AND sender = ? AND "
            "status = 'failed'", (platform, sender))
