"""The store: every SQL statement of Causette, over SQLite (default) or PostgreSQL.

One Store class, two drivers. The SQL here is written once, in the subset both databases
speak (upserts, RETURNING, FILTER, partial indexes); each driver adapts placeholders and
errors. Every write that must be atomic is one transaction, and every check-then-change
that another process could race (ad budgets, grants, migrations) is either a single
conditional statement or serialized with `lock(key)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.store.base import Driver, Queries, Row, StoreError, iso, utc_now
from bot.store.schema import (
    GENERATED_IDS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_TABLE,
    TABLES,
    for_dialect,
)

if TYPE_CHECKING:
    from bot.config import Settings

Role = Literal["user", "assistant"]
MessageStatus = Literal["complete", "streaming", "cancelled", "failed", "interrupted"]

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "iso", "utc_now"]


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



def storable(text: str) -> str:
    """Text as both databases can hold it: PostgreSQL's text has no NUL character."""
    return text.replace("\x00", "\ufffd")


class Store:
    """Async access to Causette's database, whichever driver holds it."""

    def __init__(self, driver: Driver, clock: Callable[[], datetime] = utc_now) -> None:
        self.driver = driver
        self._db: Queries = driver
        self._clock = clock
        self.migrated_steps = 0  # what opening it applied (for `causette db migrate`)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.driver.dialect

    @property
    def location(self) -> str:
        """The database's path or URL (without password), for messages."""
        return self.driver.location

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_ms: int = 5000,
                   clock: Callable[[], datetime] = utc_now) -> Store:
        """Open (creating if needed) and migrate the SQLite database at `path`."""
        from bot.store.sqlite import SqliteDriver

        return await cls._start(await SqliteDriver.open(path, busy_timeout_ms=busy_timeout_ms),
                                clock)

    @classmethod
    async def connect(cls, url: str, *, pool_size: int = 10,
                      clock: Callable[[], datetime] = utc_now) -> Store:
        """Connect to and migrate the PostgreSQL database at `url`."""
        from bot.store.postgres import PostgresDriver

        return await cls._start(await PostgresDriver.open(url, pool_size=pool_size), clock)

    @classmethod
    async def from_settings(cls, settings: Settings,
                            clock: Callable[[], datetime] = utc_now) -> Store:
        """PostgreSQL when DATABASE_URL is set, else the SQLite file at DATABASE_PATH."""
        if settings.database_url is not None:
            return await cls.connect(settings.database_url.get_secret_value(),
                                     pool_size=settings.database_pool_size, clock=clock)
        return await cls.open(settings.database_path, clock=clock)

    @classmethod
    async def _start(cls, driver: Driver, clock: Callable[[], datetime]) -> Store:
        store = cls(driver, clock)
        try:
            store.migrated_steps = await store.migrate()
            await store.sweep_interrupted()
        except BaseException:
            await driver.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection (or pool)."""
        await self.driver.close()

    def now(self) -> datetime:
        """The store's clock (injectable for tests of expiry and daily resets)."""
        return self._clock()

    def _now(self) -> str:
        return iso(self._clock())

    def _transaction(self) -> AbstractAsyncContextManager[Queries]:
        return self.driver.transaction()

    async def migrate(self) -> int:
        """Bring the schema up to date in one transaction; return how many steps ran."""
        dialect = self.driver.dialect
        async with self._transaction() as db:
            await db.lock("causette schema")  # two processes starting together migrate once
            await db.execute(SCHEMA_VERSION_TABLE[dialect])
            version = await self._version(db)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"Database {self.location} has schema version {version}, newer than "
                    f"this Causette ({SCHEMA_VERSION}); upgrade Causette.")
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number]:
                    await db.execute(for_dialect(statement, dialect))
                await db.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number + 1, self._now()))
        return SCHEMA_VERSION - version

    @staticmethod
    async def _version(db: Queries) -> int:
        row = await db.fetchrow("SELECT MAX(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    async def schema_version(self) -> int:
        """The schema version the database is at."""
        return await self._version(self._db)

    async def integrity_check(self) -> str:
        """The database's own soundness check: 'ok' when it is sound."""
        return await self.driver.integrity_check()

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

    async def _insert(self, db: Queries, sql: str, params: tuple[object, ...]) -> int:
        row = await db.fetchrow(sql + " RETURNING id", params)
        assert row is not None
        return int(row[0])

    async def add_message(self, conversation_id: int, role: Role, content: str, *,
                          status: MessageStatus = "complete",
                          prompt_tokens: int | None = None) -> int:
        """Append a turn; committed before this returns."""
        now = self._now()
        async with self._transaction() as db:
            return await self._insert(
                db, "INSERT INTO messages (conversation_id, role, content, status, "
                "prompt_tokens, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, storable(content), status, prompt_tokens, now, now))

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
                (storable(content), status, prompt_tokens, completion_tokens, stop_reason,
                 self._now(), message_id))

    _MESSAGE_COLUMNS = ("id, conversation_id, role, content, status, prompt_tokens, "
                        "completion_tokens, stop_reason, created_at")

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

    # Tiers: grants, entitlements, audit ---------------------------------------------

    async def _audit(self, db: Queries, actor: str, action: str, subject: str,
                     detail: str, reason: str) -> None:
        await db.execute(
            "INSERT INTO audit_log (actor, action, subject, detail, reason, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (actor, action, subject, detail, storable(reason), self._now()))

    async def grant_tier(self, subject_kind: str, subject: str, tier: str, *, granted_by: str,
                         reason: str = "", expires_at: datetime | None = None) -> int:
        """Give a subject a tier (replacing its active grant), audited, in one transaction."""
        async with self._transaction() as db:
            # Two admins granting at once (in two processes) must leave one active grant.
            await db.lock(f"grant {subject_kind} {subject}")
            await db.execute(
                "UPDATE tier_grants SET revoked_at = ?, revoked_by = ? "
                "WHERE subject_kind = ? AND subject = ? AND revoked_at IS NULL",
                (self._now(), granted_by, subject_kind, subject))
            grant_id = await self._insert(
                db, "INSERT INTO tier_grants (subject_kind, subject, tier, granted_by, reason, "
                "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (subject_kind, subject, tier, granted_by, storable(reason), self._now(),
                 iso(expires_at) if expires_at else None))
            until = f" until {iso(expires_at)}" if expires_at else ""
            await self._audit(db, granted_by, "grant", f"{subject_kind} {subject}",
                              f"tier {tier}{until}", reason)
        return grant_id

    async def revoke_tier(self, subject_kind: str, subject: str, *, revoked_by: str,
                          reason: str = "") -> int:
        """Revoke a subject's active grants; return how many, audited."""
        async with self._transaction() as db:
            await db.lock(f"grant {subject_kind} {subject}")
            count = await db.execute(
                "UPDATE tier_grants SET revoked_at = ?, revoked_by = ? "
                "WHERE subject_kind = ? AND subject = ? AND revoked_at IS NULL",
                (self._now(), revoked_by, subject_kind, subject))
            await self._audit(db, revoked_by, "revoke", f"{subject_kind} {subject}",
                              f"{count} grant(s) revoked", reason)
            return count

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
        return [TierGrant(*row) for row in await self._db.fetch(sql, params)]

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
        return [AuditEntry(*row) for row in await self._db.fetch(sql, params)]

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
        rows = await self._db.fetch(
            "SELECT sku_id, ends_at FROM entitlements WHERE user_ref = ? AND deleted = 0 "
            "AND (starts_at IS NULL OR starts_at <= ?) AND (ends_at IS NULL OR ends_at > ?)",
            (user_ref, now, now))
        return [(str(r[0]), r[1]) for r in rows]

    # Quotas --------------------------------------------------------------------------

    async def consume_quota(self, user_ref: str, day: str, limit: int) -> bool:
        """Count one message for the day unless the limit is reached; one atomic statement."""
        async with self._transaction() as db:
            count = await db.execute(
                "INSERT INTO usage_daily (user_ref, day, messages) VALUES (?, ?, 1) "
                "ON CONFLICT (user_ref, day) DO UPDATE SET "
                "messages = usage_daily.messages + 1 WHERE usage_daily.messages < ?",
                (user_ref, day, limit))
            return count == 1 and limit > 0

    async def refund_quota(self, user_ref: str, day: str) -> None:
        """Give back a message that was counted but not answered (e.g. the queue was full)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE usage_daily SET messages = messages - 1 "
                "WHERE user_ref = ? AND day = ? AND messages > 0", (user_ref, day))

    async def usage(self, user_ref: str, day: str) -> int:
        """Messages counted for the user on `day`."""
        row = await self._db.fetchrow(
            "SELECT messages FROM usage_daily WHERE user_ref = ? AND day = ?", (user_ref, day))
        return int(row[0]) if row else 0

    async def hit_rate_limit(self, user_ref: str, window_start: str, limit: int) -> bool:
        """Count a message in the user's current window; True when over the limit."""
        async with self._transaction() as db:
            count = await db.execute(
                "INSERT INTO rate_windows (user_ref, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT (user_ref) DO UPDATE SET count = CASE WHEN "
                "rate_windows.window_start = excluded.window_start "
                "THEN rate_windows.count + 1 ELSE 1 END, "
                "window_start = excluded.window_start "
                "WHERE rate_windows.window_start != excluded.window_start "
                "OR rate_windows.count < ?",
                (user_ref, window_start, limit))
            return count == 0

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
                    "updated_at = excluded.updated_at",
                    (user_ref, storable(prompt), self._now()))

    async def persona(self, user_ref: str) -> str | None:
        """The user's persona, if set."""
        row = await self._db.fetchrow(
            "SELECT prompt FROM personas WHERE user_ref = ?", (user_ref,))
        return str(row[0]) if row else None

    # Sponsored replies ---------------------------------------------------------------

    _CAMPAIGN_COLUMNS = (
        "id, advertiser, headline, body, url, keywords, categories, languages, cpm_micros, "
        "budget_micros, daily_budget_micros, spent_micros, start_at, end_at, status, guild_id, "
        "created_by, created_at")

    @staticmethod
    def _campaign(row: Row) -> Campaign:
        values = list(row)
        for index in (5, 6, 7):
            values[index] = tuple(json.loads(str(values[index])))
        return Campaign(*values)

    async def add_campaign(self, *, advertiser: str, headline: str, body: str, url: str,
                           keywords: list[str], categories: list[str], languages: list[str],
                           cpm_micros: int, budget_micros: int,
                           daily_budget_micros: int | None, start_at: str, end_at: str,
                           status: str, guild_id: str | None, created_by: str) -> int:
        """Store a validated campaign; returns its id."""
        async with self._transaction() as db:
            campaign_id = await self._insert(
                db, "INSERT INTO campaigns (advertiser, headline, body, url, keywords, "
                "categories, languages, cpm_micros, budget_micros, daily_budget_micros, "
                "start_at, end_at, status, guild_id, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (storable(advertiser), storable(headline), storable(body), storable(url),
                 json.dumps(keywords), json.dumps(categories), json.dumps(languages),
                 cpm_micros, budget_micros, daily_budget_micros, start_at, end_at, status,
                 guild_id, created_by, self._now()))
            await self._audit(db, created_by, "campaign add", f"campaign {campaign_id}",
                              f"{advertiser}: budget {budget_micros / 1e6:.2f}", "")
        return campaign_id

    async def campaigns(self, *, status: str | None = None) -> list[Campaign]:
        """All campaigns (optionally of one status), oldest first."""
        sql = f"SELECT {self._CAMPAIGN_COLUMNS} FROM campaigns"
        params: tuple[object, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status,)
        return [self._campaign(row) for row in await self._db.fetch(sql + " ORDER BY id", params)]

    async def campaign(self, campaign_id: int) -> Campaign | None:
        """One campaign by id."""
        row = await self._db.fetchrow(
            f"SELECT {self._CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?", (campaign_id,))
        return self._campaign(row) if row else None

    async def set_campaign_status(self, campaign_id: int, status: str, *,
                                  allowed_from: tuple[str, ...], actor: str) -> bool:
        """Move a campaign to `status` if it is in one of `allowed_from`; audited."""
        placeholders = ",".join("?" * len(allowed_from))
        async with self._transaction() as db:
            count = await db.execute(
                f"UPDATE campaigns SET status = ? WHERE id = ? AND status IN ({placeholders})",
                (status, campaign_id, *allowed_from))
            if count:
                await self._audit(db, actor, f"campaign {status}", f"campaign {campaign_id}",
                                  status, "")
            return count == 1

    async def end_finished_campaigns(self) -> int:
        """Mark campaigns past their end date as ended."""
        async with self._transaction() as db:
            return await db.execute(
                "UPDATE campaigns SET status = 'ended' WHERE status IN ('active', 'paused') "
                "AND end_at <= ?", (self._now(),))

    async def day_spend(self, campaign_id: int, day: str) -> int:
        """What a campaign spent on `day`, in micro-units."""
        row = await self._db.fetchrow(
            "SELECT COALESCE(SUM(cost_micros), 0) FROM impressions "
            "WHERE campaign_id = ? AND day = ?", (campaign_id, day))
        return int(row[0]) if row else 0

    async def charge_impression(self, campaign_id: int, cost_micros: int, *, user_id: int,
                                platform: str, matched: str, day: str,
                                delivery_ref: str | None = None) -> int | None:
        """Charge one delivered impression and record it, atomically.

        The UPDATE's WHERE clause is the budget guard: spend, daily spend and status are
        checked and changed in one statement, and the campaign's lock (taken first)
        makes the daily sum it reads include every charge committed before, so no
        number of concurrent deliveries, in any number of processes, can take a
        campaign past its budget. Returns the impression id, or None when not charged.
        """
        async with self._transaction() as db:
            await db.lock(f"campaign {campaign_id}")
            count = await db.execute(
                "UPDATE campaigns SET spent_micros = spent_micros + ?, "
                "status = CASE WHEN spent_micros + 2 * ? > budget_micros "
                "THEN 'exhausted' ELSE status END "
                "WHERE id = ? AND status = 'active' AND spent_micros + ? <= budget_micros "
                "AND (daily_budget_micros IS NULL OR ? + (SELECT COALESCE(SUM(cost_micros), 0) "
                "FROM impressions WHERE campaign_id = ? AND day = ?) <= daily_budget_micros)",
                (cost_micros, cost_micros, campaign_id, cost_micros, cost_micros, campaign_id,
                 day))
            if count != 1:
                return None
            return await self._insert(
                db, "INSERT INTO impressions (campaign_id, user_id, platform, matched, "
                "delivery_ref, cost_micros, day, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, user_id, platform, storable(matched), delivery_ref,
                 cost_micros, day, self._now()))

    async def record_click(self, impression_id: int) -> bool:
        """Count a click once per impression; False if already counted or unknown."""
        async with self._transaction() as db:
            count = await db.execute(
                "INSERT INTO clicks (impression_id, at) SELECT id, ? FROM impressions "
                "WHERE id = ? ON CONFLICT (impression_id) DO NOTHING",
                (self._now(), impression_id))
            return count == 1

    async def impression_by_delivery(self, delivery_ref: str) -> tuple[int, str] | None:
        """(impression id, matched words) of the ad delivered as `delivery_ref`."""
        row = await self._db.fetchrow(
            "SELECT id, matched FROM impressions WHERE delivery_ref = ?", (delivery_ref,))
        return (int(row[0]), str(row[1])) if row else None

    async def impression_campaign(self, impression_id: int) -> Campaign | None:
        """The campaign an impression belongs to."""
        row = await self._db.fetchrow(
            "SELECT campaign_id FROM impressions WHERE id = ?", (impression_id,))
        return await self.campaign(int(row[0])) if row else None

    async def ad_counters(self, user_id: int, day: str) -> tuple[int, int, bool]:
        """(ads shown today, assistant replies since the last ad, ever shown one)."""
        row = await self._db.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE day = ?), MAX(at) FROM impressions WHERE user_id = ?",
            (day, user_id))
        today = int(row[0]) if row else 0
        last = row[1] if row else None
        since = await self._db.fetchrow(
            "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.user_id = ? AND m.role = 'assistant' AND m.created_at > ?",
            (user_id, last or ""))
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
        row = await self._db.fetchrow(
            "SELECT enabled FROM guild_ads WHERE guild_id = ?", (guild_id,))
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
        row = await self._db.fetchrow(
            "SELECT personalize FROM ad_preferences WHERE user_id = ?", (user_id,))
        return bool(row[0]) if row else False

    async def campaign_days(self) -> list[CampaignDay]:
        """Impressions, clicks and spend per campaign per day."""
        rows = await self._db.fetch(
            "SELECT i.campaign_id, i.day, COUNT(*), COUNT(c.id), SUM(i.cost_micros) "
            "FROM impressions i LEFT JOIN clicks c ON c.impression_id = i.id "
            "GROUP BY i.campaign_id, i.day ORDER BY i.campaign_id, i.day")
        return [CampaignDay(int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]))
                for row in rows]

    # Idempotent inbound ------------------------------------------------------------

    async def claim_inbound(self, platform: str, message_id: str) -> bool:
        """True the first time an inbound message id is seen (by any process); False after."""
        async with self._transaction() as db:
            count = await db.execute(
                "INSERT INTO processed_inbound (platform, message_id, received_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (platform, message_id, self._now()))
            return count == 1

    async def set_message_status(self, message_id: int, status: MessageStatus,
                                 stop_reason: str | None = None) -> None:
        """Change a stored turn's status (e.g. an answer that could not be delivered)."""
        async with self._transaction() as db:
            await db.execute(
                "UPDATE messages SET status = ?, stop_reason = COALESCE(?, stop_reason), "
                "updated_at = ? WHERE id = ?", (status, stop_reason, self._now(), message_id))

    # Privacy -------------------------------------------------------------------------

    async def export_user(self, user_ref: str) -> dict[str, object]:
        """Everything stored about a user, as plain data (for /privacy export)."""
        platform, _, external = user_ref.partition(":")
        users = await self._db.rows(
            "SELECT id, platform, external_id, created_at FROM users "
            "WHERE platform = ? AND external_id = ?", (platform, external))
        user_id = users[0]["id"] if users else None
        member_like = f"%/{user_ref}"
        data: dict[str, object] = {
            "user": users[0] if users else None,
            "conversations": [],
            "tier_grants": await self._db.rows(
                "SELECT subject_kind, subject, tier, granted_by, reason, created_at, expires_at, "
                "revoked_at FROM tier_grants WHERE subject = ? OR subject LIKE ?",
                (user_ref, member_like)),
            "entitlements": await self._db.rows(
                "SELECT id, sku_id, starts_at, ends_at, deleted FROM entitlements "
                "WHERE user_ref = ?", (user_ref,)),
            "persona": await self.persona(user_ref),
            "usage": await self._db.rows(
                "SELECT day, messages FROM usage_daily WHERE user_ref = ? ORDER BY day",
                (user_ref,)),
            "ad_impressions": [],
            "consent": {"ad_personalization": False},
        }
        if user_id is None:
            return data
        conversations = await self._db.rows(
            "SELECT id, key, created_at, closed_at FROM conversations WHERE user_id = ? "
            "ORDER BY id", (user_id,))
        for conversation in conversations:
            conversation["messages"] = await self._db.rows(
                "SELECT role, content, status, prompt_tokens, completion_tokens, created_at "
                "FROM messages WHERE conversation_id = ? ORDER BY id", (conversation["id"],))
        data["conversations"] = conversations
        data["ad_impressions"] = await self._db.rows(
            "SELECT i.at, c.advertiser, i.matched, i.platform, "
            "CASE WHEN EXISTS (SELECT 1 FROM clicks k WHERE k.impression_id = i.id) "
            "THEN 1 ELSE 0 END AS clicked "
            "FROM impressions i JOIN campaigns c ON c.id = i.campaign_id "
            "WHERE i.user_id = ? ORDER BY i.id", (user_id,))
        data["consent"] = {"ad_personalization": await self.personalize(int(user_id))}
        return data

    async def forget_user(self, user_ref: str, anonymous_id: str) -> dict[str, int]:
        """Delete everything about a user in one transaction. Rows that accounting must
        keep (ad spend, tier audit, entitlements) keep only `anonymous_id`."""
        platform, _, external = user_ref.partition(":")
        counts: dict[str, int] = {}
        async with self._transaction() as db:
            row = await db.fetchrow("SELECT id FROM users WHERE platform = ? AND external_id = ?",
                                    (platform, external))
            if row is not None:
                user_id = int(row[0])
                counts["messages"] = await db.execute(
                    "DELETE FROM messages WHERE conversation_id IN "
                    "(SELECT id FROM conversations WHERE user_id = ?)", (user_id,))
                counts["conversations"] = await db.execute(
                    "DELETE FROM conversations WHERE user_id = ?", (user_id,))
                counts["impressions_anonymised"] = await db.execute(
                    "UPDATE impressions SET user_id = NULL WHERE user_id = ?", (user_id,))
                await db.execute("DELETE FROM ad_preferences WHERE user_id = ?", (user_id,))
                await db.execute("DELETE FROM users WHERE id = ?", (user_id,))
            member_like = f"%/{user_ref}"
            counts["grants_anonymised"] = await db.execute(
                "UPDATE tier_grants SET revoked_at = COALESCE(revoked_at, ?), "
                "subject = replace(subject, ?, ?) WHERE subject = ? OR subject LIKE ?",
                (self._now(), user_ref, anonymous_id, user_ref, member_like))
            counts["entitlements_anonymised"] = await db.execute(
                "UPDATE entitlements SET user_ref = ? WHERE user_ref = ?",
                (anonymous_id, user_ref))
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
            deleted = await db.execute(
                "DELETE FROM messages WHERE created_at < ?", (iso(cutoff),))
            await db.execute(
                "DELETE FROM conversations WHERE closed_at IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)")
            return deleted

    async def stats(self, day: str) -> dict[str, object]:
        """Operator figures from the database (the same for /stats and `causette stats`)."""
        async def one(sql: str, params: tuple[object, ...] = ()) -> int:
            row = await self._db.fetchrow(sql, params)
            return int(row[0] or 0) if row else 0

        answers = await self._db.rows(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(completion_tokens), 0) AS tokens "
            "FROM messages WHERE role = 'assistant' AND created_at >= ? GROUP BY status",
            (day,))
        return {
            "day": day,
            "users": await one("SELECT COUNT(*) FROM users"),
            "messages_today": await one(
                "SELECT COUNT(*) FROM messages WHERE role = 'user' AND created_at >= ?", (day,)),
            "answers_today": {str(r["status"]): int(r["n"]) for r in answers},
            "tokens_today": sum(int(r["tokens"]) for r in answers),
            "active_grants": {str(r["tier"]): int(r["n"]) for r in await self._db.rows(
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

    # Moving a database -----------------------------------------------------------------

    async def table_counts(self, db: Queries | None = None) -> dict[str, int]:
        """Rows per table (what `causette db copy` checks), optionally inside `db`."""
        db = db or self._db
        counts = {}
        for table in TABLES:
            row = await db.fetchrow(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(row[0]) if row else 0
        return counts

    async def copy_to(self, target: Store, *, batch: int = 2000) -> dict[str, int]:
        """Copy every row of this (SQLite) database into an empty, migrated `target`.

        One transaction on each side: the source is write-locked while it is read, and
        the target commits only once its row counts equal the source's."""
        if self.dialect != "sqlite":
            raise StoreError("Copying reads a SQLite database; the source is not one.")
        if await self.schema_version() != await target.schema_version():
            raise StoreError("Source and target are at different schema versions; "
                             "run `causette db migrate` on both first.")
        filled = {t: n for t, n in (await target.table_counts()).items() if n}
        if filled:
            raise StoreError(f"Database {target.location} is not empty "
                             f"({', '.join(f'{t}: {n}' for t, n in filled.items())}); "
                             "copy only into a new database.")
        async with self._transaction() as source, target._transaction() as sink:
            for table in TABLES:
                offset = 0
                while rows := await source.rows(
                        f"SELECT * FROM {table} ORDER BY rowid LIMIT ? OFFSET ?",
                        (batch, offset)):
                    await sink.copy_rows(table, list(rows[0]),
                                         [tuple(row.values()) for row in rows])
                    offset += len(rows)
            await sink.reset_ids(GENERATED_IDS)
            expected, copied = await self.table_counts(source), await target.table_counts(sink)
            if copied != expected:  # rolls the target back: nothing half-copied stays
                wrong = [t for t in TABLES if copied[t] != expected[t]]
                raise StoreError(f"Copy check failed: row counts differ in {', '.join(wrong)}.")
        return copied
