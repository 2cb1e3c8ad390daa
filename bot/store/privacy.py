"""Privacy (export, forget, retention) and operator stats: statements across every table."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.store.base import Queries, iso
from bot.store.common import StoreBase


class PrivacyMixin(StoreBase):
    """Export and forget a user, purge old messages, and the operator's figures."""

    if TYPE_CHECKING:  # other domains' statements that these include (tiers, ads, inbound)
        async def persona(self, user_ref: str) -> str | None: ...
        async def personalize(self, user_id: int) -> bool: ...
        async def inbound_counts(self) -> dict[str, int]: ...
        async def _export_inbound(self, platform: str, sender: str
                                  ) -> list[dict[str, object]]: ...
        async def _forget_inbound(self, db: Queries, platform: str, sender: str) -> int: ...

        async def _purge_inbound(self, db: Queries, cutoff: str) -> int: ...
        async def _export_memories(self, user_id: int) -> dict[str, object]: ...
        async def _forget_memories(self, db: Queries, user_id: int) -> int: ...
        async def _export_reminders(self, user_id: int) -> dict[str, object]: ...
        async def _forget_reminders(self, db: Queries, user_id: int) -> int: ...
        async def _purge_memories(self, db: Queries, cutoff: datetime) -> int: ...
        async def memory_counts(self) -> dict[str, int]: ...

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
            "memories": [],
            "memory_settings": {"enabled": True, "temporary": False},
            "reminders": [],
            "timezone": None,
            # Messages received but not answered yet (answered ones keep nothing here).
            "inbound_unanswered": await self._export_inbound(platform, external),
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
        data.update(await self._export_memories(int(user_id)))
        data.update(await self._export_reminders(int(user_id)))
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
                counts["memories"] = await self._forget_memories(db, user_id)
                counts["reminders"] = await self._forget_reminders(db, user_id)
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
            counts["inbound_deleted"] = await self._forget_inbound(db, platform, external)
            for table in ("personas", "usage_daily", "rate_windows"):
                await db.execute(f"DELETE FROM {table} WHERE user_ref = ?", (user_ref,))
            await self._audit(db, "privacy", "forget", anonymous_id, "user data deleted", "")
        return counts

    async def purge_older_than(self, cutoff: datetime) -> int:
        """Retention: delete messages, memories and finished inbound rows older than
        `cutoff`, then emptied conversations; returns how many messages went."""
        async with self._transaction() as db:
            deleted = await db.execute(
                "DELETE FROM messages WHERE created_at < ?", (iso(cutoff),))
            await self._purge_memories(db, cutoff)
            await self._purge_inbound(db, iso(cutoff))
            await db.execute(
                "DELETE FROM conversations WHERE closed_at IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)")
            return deleted

    async def stats(self, day: str) -> dict[str, object]:
        """Operator figures from the database (the same for /stats and `causette stats`)."""
        async def one(sql: str, params: tuple[object, ...] = ()) -> int:
            row = await self._db.fetchrow(sql, params)
            return int(row[0] or 0) if row else 0

        inbound = await self.inbound_counts()
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
            # WhatsApp messages being answered, and those an operator must retry
            # (`causette whatsapp retry`).
            "whatsapp_pending": inbound.get("whatsapp_pending", 0),
            "whatsapp_failed": inbound.get("whatsapp_failed", 0),
            # Safety: how many messages were refused and answers withheld, by category
            # (counts only: the texts are never shown to an operator).
            "moderated_today": await self._moderation_counts(day),
            # The model's health: times it stopped, was restarted, or could not be.
            "engine_events_today": {str(r["action"]): int(r["n"]) for r in await self._db.rows(
                "SELECT action, COUNT(*) AS n FROM audit_log WHERE actor = 'causette' "
                "AND action LIKE 'engine_%' AND at >= ? GROUP BY action", (day,))},
            # Saved memories: how many and for how many users, never what they say.
            **await self.memory_counts(),
        }

    async def _moderation_counts(self, day: str) -> dict[str, int]:
        rows = await self._db.rows(
            "SELECT status, moderation, COUNT(*) AS n FROM messages "
            "WHERE status IN ('refused', 'moderated') AND created_at >= ? "
            "GROUP BY status, moderation", (day,))
        counts: dict[str, int] = {}
        for row in rows:
            direction = "in" if row["status"] == "refused" else "out"
            for category in str(row["moderation"] or "unknown").split(","):
                key = f"{direction}:{category}"
                counts[key] = counts.get(key, 0) + int(row["n"])
        return counts
