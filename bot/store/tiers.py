"""Tiers: grants and their audit, platform entitlements, quotas, rate windows, personas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.store.base import Queries, iso
from bot.store.common import StoreBase, storable


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


class TiersMixin(StoreBase):
    """Tier grants, audit, entitlements, quotas, rate windows and personas."""

    # Tiers: grants, entitlements, audit ---------------------------------------------

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
            return await self._consume_quota(db, user_ref, day, limit)

    async def _consume_quota(self, db: Queries, user_ref: str, day: str, limit: int) -> bool:
        # RETURNING says whether the row was written: the WHERE of DO UPDATE skips it at
        # the limit. (A row count would cost SQLite a second trip to its thread.)
        counted = await db.fetchrow(
            "INSERT INTO usage_daily (user_ref, day, messages) VALUES (?, ?, 1) "
            "ON CONFLICT (user_ref, day) DO UPDATE SET "
            "messages = usage_daily.messages + 1 WHERE usage_daily.messages < ? "
            "RETURNING messages", (user_ref, day, limit))
        return counted is not None and limit > 0

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
            return await self._hit_rate_limit(db, user_ref, window_start, limit)

    async def _hit_rate_limit(self, db: Queries, user_ref: str, window_start: str,
                              limit: int) -> bool:
        counted = await db.fetchrow(
            "INSERT INTO rate_windows (user_ref, window_start, count) VALUES (?, ?, 1) "
            "ON CONFLICT (user_ref) DO UPDATE SET count = CASE WHEN "
            "rate_windows.window_start = excluded.window_start "
            "THEN rate_windows.count + 1 ELSE 1 END, "
            "window_start = excluded.window_start "
            "WHERE rate_windows.window_start != excluded.window_start "
            "OR rate_windows.count < ? RETURNING count", (user_ref, window_start, limit))
        return counted is None

    async def count_message(self, user_ref: str, window_start: str, rate_limit: int,
                            day: str | None, daily_limit: int) -> Literal["ok", "rate", "quota"]:
        """Count one message against the rate window and, with a `day`, the daily quota,
        in one transaction (one commit on every message's path); what stopped it, if
        anything. A message over the rate limit is not counted in the quota."""
        async with self._transaction() as db:
            if await self._hit_rate_limit(db, user_ref, window_start, rate_limit):
                return "rate"
            if day is not None and not await self._consume_quota(db, user_ref, day,
                                                                 daily_limit):
                return "quota"
            return "ok"

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
