"""The store: SQLite through aiosqlite. The only module that holds SQL.

WAL mode, a versioned schema migrated at open, and explicit transactions: every write
that must be atomic is one `BEGIN IMMEDIATE ... COMMIT`, so a crash never leaves half
of it behind.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import aiosqlite

Role = Literal["user", "assistant"]
MessageStatus = Literal["complete", "streaming", "cancelled", "failed", "interrupted"]

# Each entry migrates the schema from version i to i + 1; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            external_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (platform, external_id))""",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            closed_at TEXT)""",
        # At most one open conversation per user and key: /reset closes it.
        """CREATE UNIQUE INDEX conversations_open
            ON conversations (user_id, key) WHERE closed_at IS NULL""",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('complete', 'streaming', 'cancelled', 'failed', 'interrupted')),
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            stop_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
    ),
    (
        # Where the bot answers in a Discord server: allow/block lists by kind.
        """CREATE TABLE guild_rules (
            guild_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('channel', 'role', 'user')),
            target_id TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('allow', 'block')),
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, kind, target_id))""",
        """CREATE TABLE channel_prompts (
            guild_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            prompt TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (guild_id, channel_id))""",
    ),
    (
        # Tiers. Subjects: a user ref (discord:123), a role (discord:<guild>:<role>) or a
        # guild (discord:<guild>). Grants are revoked, never deleted: they are history.
        """CREATE TABLE tier_grants (
            id INTEGER PRIMARY KEY,
            subject_kind TEXT NOT NULL CHECK (subject_kind IN ('user', 'role', 'guild')),
            subject TEXT NOT NULL,
            tier TEXT NOT NULL,
            granted_by TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT,
            revoked_by TEXT)""",
        """CREATE INDEX tier_grants_active ON tier_grants (subject_kind, subject)
            WHERE revoked_at IS NULL""",
        """CREATE TABLE entitlements (
            id TEXT PRIMARY KEY,
            user_ref TEXT NOT NULL,
            sku_id TEXT NOT NULL,
            starts_at TEXT,
            ends_at TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX entitlements_by_user ON entitlements (user_ref)",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL)""",
        """CREATE TABLE usage_daily (
            user_ref TEXT NOT NULL,
            day TEXT NOT NULL,
            messages INTEGER NOT NULL,
            PRIMARY KEY (user_ref, day))""",
        """CREATE TABLE rate_windows (
            user_ref TEXT PRIMARY KEY,
            window_start TEXT NOT NULL,
            count INTEGER NOT NULL)""",
        """CREATE TABLE personas (
            user_ref TEXT PRIMARY KEY,
            prompt TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
    ),
    (
        # Sponsored replies. Money is integer micro-units (1e-6 of the currency) so sums
        # are exact; the CHECK makes overspending impossible even for a buggy caller.
        """CREATE TABLE campaigns (
            id INTEGER PRIMARY KEY,
            advertiser TEXT NOT NULL,
            headline TEXT NOT NULL,
            body TEXT NOT NULL,
            url TEXT NOT NULL,
            keywords TEXT NOT NULL,
            categories TEXT NOT NULL,
            languages TEXT NOT NULL,
            cpm_micros INTEGER NOT NULL CHECK (cpm_micros > 0),
            budget_micros INTEGER NOT NULL CHECK (budget_micros > 0),
            daily_budget_micros INTEGER CHECK (daily_budget_micros > 0),
            spent_micros INTEGER NOT NULL DEFAULT 0,
            start_at TEXT NOT NULL,
            end_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN
                ('draft', 'active', 'paused', 'ended', 'exhausted')),
            guild_id TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            CHECK (spent_micros >= 0 AND spent_micros <= budget_micros))""",
        # Users are named by internal id only; deleting a user removes their ad history.
        """CREATE TABLE impressions (
            id INTEGER PRIMARY KEY,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
            platform TEXT NOT NULL,
            matched TEXT NOT NULL,
            delivery_ref TEXT,
            cost_micros INTEGER NOT NULL,
            day TEXT NOT NULL,
            at TEXT NOT NULL)""",
        "CREATE INDEX impressions_by_campaign ON impressions (campaign_id, day)",
        "CREATE INDEX impressions_by_user ON impressions (user_id, at)",
        "CREATE INDEX impressions_by_delivery ON impressions (delivery_ref)",
        """CREATE TABLE clicks (
            id INTEGER PRIMARY KEY,
            impression_id INTEGER NOT NULL UNIQUE REFERENCES impressions(id) ON DELETE CASCADE,
            at TEXT NOT NULL)""",
        """CREATE TABLE guild_ads (
            guild_id TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL)""",
        """CREATE TABLE ad_preferences (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            personalize INTEGER NOT NULL,
            set_at TEXT NOT NULL)""",
    ),
    (
        # Inbound ids already handled (WhatsApp retries deliveries): never answer twice.
        """CREATE TABLE processed_inbound (
            platform TEXT NOT NULL,
            message_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (platform, message_id))""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class GuildRule:
    """One allow/block rule of a Discord server."""

    kind: Literal["channel", "role", "user"]
    target_id: str
    mode: Literal["allow", "block"]


@dataclass(frozen=True)
class TierGrant:
    """An active (or historical) tier grant."""

    id: int
    subject_kind: Literal["user", "role", "guild"]
    subject: str
    tier: str
    granted_by: str
    reason: str
    created_at: str
    expires_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    """Who changed what, when and why."""

    id: int
    actor: str
    action: str
    subject: str
    detail: str
    reason: str
    at: str


@dataclass(frozen=True)
class Campaign:
    """A sponsored-reply campaign as stored (money in micro-units)."""

    id: int
    advertiser: str
    headline: str
    body: str
    url: str
    keywords: tuple[str, ...]
    categories: tuple[str, ...]
    languages: tuple[str, ...]
    cpm_micros: int
    budget_micros: int
    daily_budget_micros: int | None
    spent_micros: int
    start_at: str
    end_at: str
    status: str
    guild_id: str | None
    created_by: str
    created_at: str


@dataclass(frozen=True)
class CampaignDay:
    """One campaign's figures for one day."""

    campaign_id: int
    day: str
    impressions: int
    clicks: int
    spent_micros: int


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


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


def utc_now() -> datetime:
    """The current time in UTC (the store's default clock)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """The one timestamp format of the database: UTC ISO 8601, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _explain(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        why = "it is locked by another process; stop the other process or try again"
    elif "readonly" in text:
        why = "it is read-only; fix the file's permissions or set DATABASE_PATH"
    elif "disk is full" in text or "full" in text:
        why = "the disk is full; free some space"
    elif "not a database" in text or "malformed" in text:
        why = "it is not a valid SQLite database; restore it or set DATABASE_PATH"
    else:
        why = text
    return StoreError(f"Database {path}: {why}.")


class Store:
    """Async access to Causette's SQLite database."""

    def __init__(self, db: aiosqlite.Connection, path: Path,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self.path = path
        self._clock = clock
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_ms: int = 5000,
                   clock: Callable[[], datetime] = utc_now) -> Store:
        """Open (creating if needed) and migrate the database at `path`."""
        # A `file:` URI opens SQLite's own modes (mode=ro for a read-only copy).
        uri = str(path).startswith("file:")
        path = Path(path)
        try:
            if not uri and str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(str(path), isolation_level=None, uri=uri)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"Database {path}: cannot open it ({exc}).") from None
        store = cls(db, path, clock)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across application crashes in WAL mode; only a power
            # loss can drop the last commits, never corrupt the file.
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await store._migrate()
            await store.mark_interrupted()
        except sqlite3.Error as exc:
            await db.close()
            raise _explain(exc, path) from None
        return store

    async def close(self) -> None:
        """Close the connection; the WAL is checkpointed by SQLite on close."""
        await self._db.close()

    def now(self) -> datetime:
        """The store's clock (injectable for tests of expiry and daily resets)."""
        return self._clock()

    def _now(self) -> str:
        return iso(self._clock())

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One atomic write; the lock keeps coroutines from sharing a transaction."""
        async with self._write_lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _explain(exc, self.path) from None
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException as exc:
                try:
                    await self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise _explain(exc, self.path) from None
                raise

    async def _migrate(self) -> None:
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
            "applied_at TEXT NOT NULL)"
        )
        version = await self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"Database {self.path} has schema version {version}, newer than this "
                f"Causette ({SCHEMA_VERSION}); upgrade Causette."
            )
        for number in range(version, SCHEMA_VERSION):
            async with self._transaction() as db:
                for statement in MIGRATIONS[number]:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number + 1, self._now()),
                )

    async def schema_version(self) -> int:
        """The schema version the database is at."""
        async with self._db.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def integrity_check(self) -> str:
        """SQLite's own integrity check: 'ok' when the file is sound."""
        async with self._db.execute("PRAGMA integrity_check") as cur:
            rows = await cur.fetchall()
        return "; ".join(str(r[0]) for r in rows)

    async def mark_interrupted(self) -> int:
        """Mark answers left streaming by a crash as interrupted; return how many."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE messages SET status = 'interrupted', updated_at = ? "
                "WHERE status = 'streaming'",
                (self._now(),),
            )
            return cur.rowcount

    async def ensure_user(self, platform: str, external_id: str) -> int:
        """The internal id of a platform user, created on first sight."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO users (platform, external_id, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (platform, external_id) DO NOTHING",
                (platform, external_id, self._now()),
            )
            async with db.execute(
                "SELECT id FROM users WHERE platform = ? AND external_id = ?",
                (platform, external_id),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def open_conversation(self, user_id: int, key: str) -> int:
        """The user's open conversation under `key`, started if there is none."""
        async with self._transaction() as db:
            return await self._open_conversation(db, user_id, key)

    async def _open_conversation(self, db: aiosqlite.Connection, user_id: int, key: str) -> int:
        async with db.execute(
            "SELECT id FROM conversations WHERE user_id = ? AND key = ? AND closed_at IS NULL",
            (user_id, key),
        ) as cur:
            row = await cur.fetchone()
        if row:
            return int(row[0])
        cur = await db.execute(
            "INSERT INTO conversations (user_id, key, created_at) VALUES (?, ?, ?)",
            (user_id, key, self._now()),
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    async def reset_conversation(self, user_id: int, key: str) -> int:
        """Close the open conversation (kept in the database) and start a new one."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE conversations SET closed_at = ? "
                "WHERE user_id = ? AND key = ? AND closed_at IS NULL",
                (self._now(), user_id, key),
            )
            return await self._open_conversation(db, user_id, key)

    async def add_message(self, conversation_id: int, role: Role, content: str, *,
                          status: MessageStatus = "complete",
                          prompt_tokens: int | None = None) -> int:
        """Append a turn; committed before this returns."""
        now = self._now()
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO messages (conversation_id, role, content, status, prompt_tokens, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, status, prompt_tokens, now, now),
            )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    async def finish_message(self, message_id: int, content: str, status: MessageStatus, *,
                             prompt_tokens: int | None = None,
                             completion_tokens: int | None = None,
                             stop_reason: str | None = None) -> None:
        """Record how an assistant turn ended, with its text so far."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE messages SET content = ?, status = ?, "
                "prompt_tokens = COALESCE(?, prompt_tokens), completion_tokens = ?, "
                "stop_reason = ?, updated_at = ? WHERE id = ?",
                (content, status, prompt_tokens, completion_tokens, stop_reason,
                 self._now(), message_id),
            )

    async def messages(self, conversation_id: int, *, limit: int | None = None
                       ) -> list[StoredMessage]:
        """A conversation's turns, oldest first; with `limit`, only the newest ones."""
        sql = (
            "SELECT id, conversation_id, role, content, status, prompt_tokens, "
            "completion_tokens, stop_reason, created_at FROM messages "
            "WHERE conversation_id = ? ORDER BY id DESC"
        )
        params: tuple[object, ...] = (conversation_id,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        async with self._db.execute(sql, params) as cur:
            rows = await cur.fetchall()
        return [StoredMessage(*row) for row in reversed(list(rows))]

    async def message(self, message_id: int) -> StoredMessage | None:
        """One stored turn by id."""
        async with self._db.execute(
            "SELECT id, conversation_id, role, content, status, prompt_tokens, "
            "completion_tokens, stop_reason, created_at FROM messages WHERE id = ?",
            (message_id,),
        ) as cur:
            row = await cur.fetchone()
        return StoredMessage(*row) if row else None

    # Discord server settings ------------------------------------------------------

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
        async with self._db.execute(
            "SELECT kind, target_id, mode FROM guild_rules WHERE guild_id = ? "
            "ORDER BY kind, target_id", (guild_id,),
        ) as cur:
            return [GuildRule(*row) for row in await cur.fetchall()]

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
                    (guild_id, channel_id, prompt, set_by, self._now()))

    async def channel_prompts(self, guild_id: str) -> dict[str, str]:
        """A server's channel prompts by channel id."""
        async with self._db.execute(
            "SELECT channel_id, prompt FROM channel_prompts WHERE guild_id = ?", (guild_id,),
        ) as cur:
            return {str(row[0]): str(row[1]) for row in await cur.fetchall()}

    # Tiers: grants, entitlements, audit ---------------------------------------------

    async def _audit(self, db: aiosqlite.Connection, actor: str, action: str, subject: str,
                     detail: str, reason: str) -> None:
        await db.execute(
            "INSERT INTO audit_log (actor, action, subject, detail, reason, at) "
            "VALUES (?, ?, ?, ?, ?, ?)", (actor, action, subject, detail, reason, self._now()))

    async def grant_tier(self, subject_kind: str, subject: str, tier: str, *, granted_by: str,
                         reason: str = "", expires_at: datetime | None = None) -> int:
        """Give a subject a tier (replacing its active grant), audited, in one transaction."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE tier_grants SET revoked_at = ?, revoked_by = ? "
                "WHERE subject_kind = ? AND subject = ? AND revoked_at IS NULL",
                (self._now(), granted_by, subject_kind, subject))
            cur = await db.execute(
                "INSERT INTO tier_grants (subject_kind, subject, tier, granted_by, reason, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (subject_kind, subject, tier, granted_by, reason, self._now(),
                 iso(expires_at) if expires_at else None))
            until = f" until {iso(expires_at)}" if expires_at else ""
            await self._audit(db, granted_by, "grant", f"{subject_kind} {subject}",
                              f"tier {tier}{until}", reason)
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    async def revoke_tier(self, subject_kind: str, subject: str, *, revoked_by: str,
                          reason: str = "") -> int:
        """Revoke a subject's active grants; return how many, audited."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE tier_grants SET revoked_at = ?, revoked_by = ? "
                "WHERE subject_kind = ? AND subject = ? AND revoked_at IS NULL",
                (self._now(), revoked_by, subject_kind, subject))
            await self._audit(db, revoked_by, "revoke", f"{subject_kind} {subject}",
                              f"{cur.rowcount} grant(s) revoked", reason)
            return cur.rowcount

    async def active_grants(self, subject_kind: str | None = None,
                            subjects: list[str] | None = None,
                            prefix: str | None = None) -> list[TierGrant]:
        """Unrevoked, unexpired grants, newest first, filtered by kind/subjects/prefix."""
        sql = ("SELECT id, subject_kind, subject, tier, granted_by, reason, created_at, "
               "expires_at FROM tier_grants WHERE revoked_at IS NULL "
               "AND (expires_at IS NULL OR expires_at > ?)")
        params: list[object] = [self._now()]
        if subject_kind is not None:
            sql += " AND subject_kind = ?"
            params.append(subject_kind)
        if subjects is not None:
            if not subjects:
                return []
            sql += f" AND subject IN ({','.join('?' * len(subjects))})"
            params.extend(subjects)
        if prefix is not None:
            sql += " AND subject LIKE ? ESCAPE '\\'"
            params.append(prefix.replace("%", "\\%").replace("_", "\\_") + "%")
        sql += " ORDER BY id DESC"
        async with self._db.execute(sql, params) as cur:
            return [TierGrant(*row) for row in await cur.fetchall()]

    async def audit_log(self, *, limit: int = 50, subject_contains: str | None = None
                        ) -> list[AuditEntry]:
        """The newest audit entries first."""
        sql = "SELECT id, actor, action, subject, detail, reason, at FROM audit_log"
        params: list[object] = []
        if subject_contains:
            sql += " WHERE subject LIKE ?"
            params.append(f"%{subject_contains}%")
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        async with self._db.execute(sql, params) as cur:
            return [AuditEntry(*row) for row in await cur.fetchall()]

    async def upsert_entitlement(self, entitlement_id: str, user_ref: str, sku_id: str, *,
                                 starts_at: datetime | None, ends_at: datetime | None,
                                 deleted: bool = False) -> None:
        """Record a platform entitlement as the platform last described it."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO entitlements (id, user_ref, sku_id, starts_at, ends_at, deleted, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "user_ref = excluded.user_ref, sku_id = excluded.sku_id, "
                "starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
                "deleted = excluded.deleted, updated_at = excluded.updated_at",
                (entitlement_id, user_ref, sku_id, iso(starts_at) if starts_at else None,
                 iso(ends_at) if ends_at else None, int(deleted), self._now()))
            await self._audit(db, "platform", "entitlement", f"user {user_ref}",
                              f"sku {sku_id} {'deleted' if deleted else 'active'}"
                              + (f" until {iso(ends_at)}" if ends_at else ""), "")

    async def active_entitlements(self, user_ref: str) -> list[tuple[str, str | None]]:
        """(sku id, end or None) of the user's live entitlements."""
        now = self._now()
        async with self._db.execute(
            "SELECT sku_id, ends_at FROM entitlements WHERE user_ref = ? AND deleted = 0 "
            "AND (starts_at IS NULL OR starts_at <= ?) AND (ends_at IS NULL OR ends_at > ?)",
            (user_ref, now, now),
        ) as cur:
            return [(str(r[0]), r[1]) for r in await cur.fetchall()]

    # Quotas --------------------------------------------------------------------------

    async def consume_quota(self, user_ref: str, day: str, limit: int) -> bool:
        """Count one message for the day unless the limit is reached; one atomic statement."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO usage_daily (user_ref, day, messages) VALUES (?, ?, 1) "
                "ON CONFLICT (user_ref, day) DO UPDATE SET messages = messages + 1 "
                "WHERE messages < ?", (user_ref, day, limit))
            return cur.rowcount == 1 and limit > 0

    async def refund_quota(self, user_ref: str, day: str) -> None:
        """Give back a message that was counted but not answered (e.g. the queue was full)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE usage_daily SET messages = messages - 1 "
                "WHERE user_ref = ? AND day = ? AND messages > 0", (user_ref, day))

    async def usage(self, user_ref: str, day: str) -> int:
        """Messages counted for the user on `day`."""
        async with self._db.execute(
            "SELECT messages FROM usage_daily WHERE user_ref = ? AND day = ?", (user_ref, day),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def hit_rate_limit(self, user_ref: str, window_start: str, limit: int) -> bool:
        """Count a message in the user's current window; True when over the limit."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO rate_windows (user_ref, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT (user_ref) DO UPDATE SET "
                "count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, "
                "window_start = excluded.window_start "
                "WHERE window_start != excluded.window_start OR count < ?",
                (user_ref, window_start, limit))
            return cur.rowcount == 0

    # Personas ------------------------------------------------------------------------

    async def set_persona(self, user_ref: str, prompt: str | None) -> None:
        """Set (or with None, clear) the user's persona."""
        async with self._transaction() as db:
            if prompt is None:
                await db.execute("DELETE FROM personas WHERE user_ref = ?", (user_ref,))
            else:
                await db.execute(
                    "INSERT INTO personas (user_ref, prompt, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_ref) DO UPDATE SET prompt = excluded.prompt, "
                    "updated_at = excluded.updated_at", (user_ref, prompt, self._now()))

    async def persona(self, user_ref: str) -> str | None:
        """The user's persona, if set."""
        async with self._db.execute(
            "SELECT prompt FROM personas WHERE user_ref = ?", (user_ref,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    # Sponsored replies ---------------------------------------------------------------

    _CAMPAIGN_COLUMNS = (
        "id, advertiser, headline, body, url, keywords, categories, languages, cpm_micros, "
        "budget_micros, daily_budget_micros, spent_micros, start_at, end_at, status, guild_id, "
        "created_by, created_at")

    @staticmethod
    def _campaign(row: tuple[object, ...]) -> Campaign:
        values = list(row)
        for index in (5, 6, 7):
            values[index] = tuple(json.loads(str(values[index])))
        return Campaign(*values)  # type: ignore[arg-type]

    async def add_campaign(self, *, advertiser: str, headline: str, body: str, url: str,
                           keywords: list[str], categories: list[str], languages: list[str],
                           cpm_micros: int, budget_micros: int,
                           daily_budget_micros: int | None, start_at: str, end_at: str,
                           status: str, guild_id: str | None, created_by: str) -> int:
        """Store a validated campaign; returns its id."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO campaigns (advertiser, headline, body, url, keywords, categories, "
                "languages, cpm_micros, budget_micros, daily_budget_micros, start_at, end_at, "
                "status, guild_id, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (advertiser, headline, body, url, json.dumps(keywords), json.dumps(categories),
                 json.dumps(languages), cpm_micros, budget_micros, daily_budget_micros,
                 start_at, end_at, status, guild_id, created_by, self._now()))
            await self._audit(db, created_by, "campaign add", f"campaign {cur.lastrowid}",
                              f"{advertiser}: budget {budget_micros / 1e6:.2f}", "")
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    async def campaigns(self, *, status: str | None = None) -> list[Campaign]:
        """All campaigns (optionally of one status), oldest first."""
        sql = f"SELECT {self._CAMPAIGN_COLUMNS} FROM campaigns"
        params: tuple[object, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status,)
        async with self._db.execute(sql + " ORDER BY id", params) as cur:
            return [self._campaign(tuple(row)) for row in await cur.fetchall()]

    async def campaign(self, campaign_id: int) -> Campaign | None:
        """One campaign by id."""
        async with self._db.execute(
            f"SELECT {self._CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?", (campaign_id,),
        ) as cur:
            row = await cur.fetchone()
        return self._campaign(tuple(row)) if row else None

    async def set_campaign_status(self, campaign_id: int, status: str, *,
                                  allowed_from: tuple[str, ...], actor: str) -> bool:
        """Move a campaign to `status` if it is in one of `allowed_from`; audited."""
        placeholders = ",".join("?" * len(allowed_from))
        async with self._transaction() as db:
            cur = await db.execute(
                f"UPDATE campaigns SET status = ? WHERE id = ? AND status IN ({placeholders})",
                (status, campaign_id, *allowed_from))
            if cur.rowcount:
                await self._audit(db, actor, f"campaign {status}", f"campaign {campaign_id}",
                                  status, "")
            return cur.rowcount == 1

    async def end_finished_campaigns(self) -> int:
        """Mark campaigns past their end date as ended."""
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE campaigns SET status = 'ended' WHERE status IN ('active', 'paused') "
                "AND end_at <= ?", (self._now(),))
            return cur.rowcount

    async def day_spend(self, campaign_id: int, day: str) -> int:
        """What a campaign spent on `day`, in micro-units."""
        async with self._db.execute(
            "SELECT COALESCE(SUM(cost_micros), 0) FROM impressions "
            "WHERE campaign_id = ? AND day = ?", (campaign_id, day)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def charge_impression(self, campaign_id: int, cost_micros: int, *, user_id: int,
                                platform: str, matched: str, day: str,
                                delivery_ref: str | None = None) -> int | None:
        """Charge one delivered impression and record it, atomically.

        The UPDATE's WHERE clause is the budget guard: with the write lock held, the
        spend, the daily spend and the status are checked and changed in one statement,
        so no number of concurrent deliveries, in any number of processes, can take a
        campaign past its budget. Returns the impression id, or None when not charged.
        """
        async with self._transaction() as db:
            cur = await db.execute(
                "UPDATE campaigns SET spent_micros = spent_micros + :cost, "
                "status = CASE WHEN spent_micros + 2 * :cost > budget_micros "
                "THEN 'exhausted' ELSE status END "
                "WHERE id = :id AND status = 'active' AND spent_micros + :cost <= budget_micros "
                "AND (daily_budget_micros IS NULL OR :cost + (SELECT COALESCE(SUM(cost_micros), 0) "
                "FROM impressions WHERE campaign_id = :id AND day = :day) <= daily_budget_micros)",
                {"cost": cost_micros, "id": campaign_id, "day": day})
            if cur.rowcount != 1:
                return None
            cur = await db.execute(
                "INSERT INTO impressions (campaign_id, user_id, platform, matched, delivery_ref, "
                "cost_micros, day, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, user_id, platform, matched, delivery_ref, cost_micros, day,
                 self._now()))
            return cur.lastrowid

    async def record_click(self, impression_id: int) -> bool:
        """Count a click once per impression; False if already counted or unknown."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO clicks (impression_id, at) SELECT id, ? FROM impressions "
                "WHERE id = ? ON CONFLICT (impression_id) DO NOTHING",
                (self._now(), impression_id))
            return cur.rowcount == 1

    async def impression_by_delivery(self, delivery_ref: str) -> tuple[int, str] | None:
        """(impression id, matched words) of the ad delivered as `delivery_ref`."""
        async with self._db.execute(
            "SELECT id, matched FROM impressions WHERE delivery_ref = ?", (delivery_ref,),
        ) as cur:
            row = await cur.fetchone()
        return (int(row[0]), str(row[1])) if row else None

    async def impression_campaign(self, impression_id: int) -> Campaign | None:
        """The campaign an impression belongs to."""
        async with self._db.execute(
            "SELECT campaign_id FROM impressions WHERE id = ?", (impression_id,)) as cur:
            row = await cur.fetchone()
        return await self.campaign(int(row[0])) if row else None

    async def ad_counters(self, user_id: int, day: str) -> tuple[int, int, bool]:
        """(ads shown today, assistant replies since the last ad, ever shown one)."""
        async with self._db.execute(
            "SELECT COUNT(*) FILTER (WHERE day = ?), MAX(at) FROM impressions WHERE user_id = ?",
            (day, user_id)) as cur:
            row = await cur.fetchone()
        today = int(row[0]) if row else 0
        last = row[1] if row else None
        async with self._db.execute(
            "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.user_id = ? AND m.role = 'assistant' AND m.created_at > ?",
            (user_id, last or ""),
        ) as cur:
            since = await cur.fetchone()
        return today, int(since[0]) if since else 0, last is not None

    async def set_guild_ads(self, guild_id: str, enabled: bool, set_by: str) -> None:
        """Turn sponsored replies on or off in a Discord server; audited."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO guild_ads (guild_id, enabled, set_by, set_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET enabled = excluded.enabled, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                (guild_id, int(enabled), set_by, self._now()))
            await self._audit(db, set_by, "sponsors", f"guild {guild_id}",
                              "enabled" if enabled else "disabled", "")

    async def guild_ads(self, guild_id: str) -> bool | None:
        """Whether a server turned sponsored replies on (None: never chose)."""
        async with self._db.execute(
            "SELECT enabled FROM guild_ads WHERE guild_id = ?", (guild_id,)) as cur:
            row = await cur.fetchone()
        return bool(row[0]) if row else None

    async def set_personalize(self, user_id: int, on: bool) -> None:
        """The user's consent to ads matched on their history, not just their message."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO ad_preferences (user_id, personalize, set_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET personalize = excluded.personalize, "
                "set_at = excluded.set_at", (user_id, int(on), self._now()))

    async def personalize(self, user_id: int) -> bool:
        """Whether the user opted in to personalised ads (off unless they said so)."""
        async with self._db.execute(
            "SELECT personalize FROM ad_preferences WHERE user_id = ?", (user_id,)) as cur:
            row = await cur.fetchone()
        return bool(row[0]) if row else False

    async def campaign_days(self) -> list[CampaignDay]:
        """Impressions, clicks and spend per campaign per day."""
        async with self._db.execute(
            "SELECT i.campaign_id, i.day, COUNT(*), COUNT(c.id), SUM(i.cost_micros) "
            "FROM impressions i LEFT JOIN clicks c ON c.impression_id = i.id "
            "GROUP BY i.campaign_id, i.day ORDER BY i.campaign_id, i.day") as cur:
            return [CampaignDay(int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]))
                    for row in await cur.fetchall()]

    # Idempotent inbound ------------------------------------------------------------

    async def claim_inbound(self, platform: str, message_id: str) -> bool:
        """True the first time an inbound message id is seen; False on any repeat."""
        async with self._transaction() as db:
            cur = await db.execute(
                "INSERT INTO processed_inbound (platform, message_id, received_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (platform, message_id, self._now()))
            return cur.rowcount == 1

    async def set_message_status(self, message_id: int, status: MessageStatus,
                                 stop_reason: str | None = None) -> None:
        """Change a stored turn's status (e.g. an answer that could not be delivered)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE messages SET status = ?, stop_reason = COALESCE(?, stop_reason), "
                "updated_at = ? WHERE id = ?", (status, stop_reason, self._now(), message_id))

    # Privacy -------------------------------------------------------------------------

    async def _rows(self, sql: str, params: tuple[object, ...]) -> list[dict[str, object]]:
        async with self._db.execute(sql, params) as cur:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]

    async def export_user(self, user_ref: str) -> dict[str, object]:
        """Everything stored about a user, as plain data (for /privacy export)."""
        platform, _, external = user_ref.partition(":")
        users = await self._rows(
            "SELECT id, platform, external_id, created_at FROM users "
            "WHERE platform = ? AND external_id = ?", (platform, external))
        user_id = users[0]["id"] if users else None
        member_like = f"%/{user_ref}"
        data: dict[str, object] = {
            "user": users[0] if users else None,
            "conversations": [],
            "tier_grants": await self._rows(
                "SELECT subject_kind, subject, tier, granted_by, reason, created_at, expires_at, "
                "revoked_at FROM tier_grants WHERE subject = ? OR subject LIKE ?",
                (user_ref, member_like)),
            "entitlements": await self._rows(
                "SELECT id, sku_id, starts_at, ends_at, deleted FROM entitlements "
                "WHERE user_ref = ?", (user_ref,)),
            "persona": await self.persona(user_ref),
            "usage": await self._rows(
                "SELECT day, messages FROM usage_daily WHERE user_ref = ? ORDER BY day",
                (user_ref,)),
            "ad_impressions": [],
            "consent": {"ad_personalization": False},
        }
        if user_id is None:
            return data
        conversations = await self._rows(
            "SELECT id, key, created_at, closed_at FROM conversations WHERE user_id = ? "
            "ORDER BY id", (user_id,))
        for conversation in conversations:
            conversation["messages"] = await self._rows(
                "SELECT role, content, status, prompt_tokens, completion_tokens, created_at "
                "FROM messages WHERE conversation_id = ? ORDER BY id", (conversation["id"],))
        data["conversations"] = conversations
        data["ad_impressions"] = await self._rows(
            "SELECT i.at, c.advertiser, i.matched, i.platform, "
            "EXISTS (SELECT 1 FROM clicks k WHERE k.impression_id = i.id) AS clicked "
            "FROM impressions i JOIN campaigns c ON c.id = i.campaign_id "
            "WHERE i.user_id = ? ORDER BY i.id", (user_id,))
        data["consent"] = {"ad_personalization": await self.personalize(int(str(user_id)))}
        return data

    async def forget_user(self, user_ref: str, anonymous_id: str) -> dict[str, int]:
        """Delete everything about a user in one transaction. Rows that accounting must
        keep (ad spend, tier audit, entitlements) keep only `anonymous_id`."""
        platform, _, external = user_ref.partition(":")
        counts: dict[str, int] = {}
        async with self._transaction() as db:
            async with db.execute("SELECT id FROM users WHERE platform = ? AND external_id = ?",
                                  (platform, external)) as cur:
                row = await cur.fetchone()
            if row is not None:
                user_id = int(row[0])
                cur = await db.execute(
                    "DELETE FROM messages WHERE conversation_id IN "
                    "(SELECT id FROM conversations WHERE user_id = ?)", (user_id,))
                counts["messages"] = cur.rowcount
                cur = await db.execute("DELETE FROM conversations WHERE user_id = ?", (user_id,))
                counts["conversations"] = cur.rowcount
                cur = await db.execute("UPDATE impressions SET user_id = NULL WHERE user_id = ?",
                                       (user_id,))
                counts["impressions_anonymised"] = cur.rowcount
                await db.execute("DELETE FROM ad_preferences WHERE user_id = ?", (user_id,))
                await db.execute("DELETE FROM users WHERE id = ?", (user_id,))
            member_like = f"%/{user_ref}"
            cur = await db.execute(
                "UPDATE tier_grants SET revoked_at = COALESCE(revoked_at, ?), "
                "subject = replace(subject, ?, ?) WHERE subject = ? OR subject LIKE ?",
                (self._now(), user_ref, anonymous_id, user_ref, member_like))
            counts["grants_anonymised"] = cur.rowcount
            cur = await db.execute("UPDATE entitlements SET user_ref = ? WHERE user_ref = ?",
                                   (anonymous_id, user_ref))
            counts["entitlements_anonymised"] = cur.rowcount
            await db.execute(
                "UPDATE audit_log SET subject = replace(subject, ?, ?), "
                "actor = replace(actor, ?, ?) WHERE subject LIKE ? OR actor = ?",
                (user_ref, anonymous_id, user_ref, anonymous_id, f"%{user_ref}%", user_ref))
            for table in ("personas", "usage_daily", "rate_windows"):
                await db.execute(f"DELETE FROM {table} WHERE user_ref = ?", (user_ref,))
            await self._audit(db, "privacy", "forget", anonymous_id, "user data deleted", "")
        return counts

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Retention: delete messages older than `cutoff`, then emptied conversations."""
        async with self._transaction() as db:
            cur = await db.execute("DELETE FROM messages WHERE created_at < ?", (iso(cutoff),))
            deleted = cur.rowcount
            await db.execute(
                "DELETE FROM conversations WHERE closed_at IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)")
            return deleted

    async def stats(self, day: str) -> dict[str, object]:
        """Operator figures from the database (the same for /stats and `causette stats`)."""
        async def one(sql: str, params: tuple[object, ...] = ()) -> int:
            async with self._db.execute(sql, params) as cur:
                row = await cur.fetchone()
            return int(row[0] or 0) if row else 0

        answers = await self._rows(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(completion_tokens), 0) AS tokens "
            "FROM messages WHERE role = 'assistant' AND created_at >= ? GROUP BY status",
            (day,))
        return {
            "day": day,
            "users": await one("SELECT COUNT(*) FROM users"),
            "messages_today": await one(
                "SELECT COUNT(*) FROM messages WHERE role = 'user' AND created_at >= ?", (day,)),
            "answers_today": {str(r["status"]): int(str(r["n"])) for r in answers},
            "tokens_today": sum(int(str(r["tokens"])) for r in answers),
            "active_grants": {str(r["tier"]): int(str(r["n"])) for r in await self._rows(
                "SELECT tier, COUNT(*) AS n FROM tier_grants WHERE revoked_at IS NULL AND "
                "(expires_at IS NULL OR expires_at > ?) GROUP BY tier", (self._now(),))},
            "ad_impressions_today": await one(
                "SELECT COUNT(*) FROM impressions WHERE day = ?", (day,)),
            "ad_clicks_today": await one(
                "SELECT COUNT(*) FROM clicks k JOIN impressions i ON i.id = k.impression_id "
                "WHERE i.day = ?", (day,)),
            "ad_spend_today_micros": await one(
                "SELECT COALESCE(SUM(cost_micros), 0) FROM impressions WHERE day = ?", (day,)),
        }
