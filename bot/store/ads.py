"""Sponsored replies: campaigns, impressions, clicks, server and user ad settings."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.store.base import Queries, Row
from bot.store.common import StoreBase, storable


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
    # The advertiser account it belongs to (the web console), None until the operator
    # links it (`link_campaign`); a server's own campaign is never linked to one.
    advertiser_id: int | None = None


@dataclass(frozen=True)
class CampaignDay:
    """One campaign's figures for one day."""

    campaign_id: int
    day: str
    impressions: int
    clicks: int
    spent_micros: int


class AdsMixin(StoreBase):
    """Campaigns, impressions, clicks, guild_ads, ad preferences and campaign days."""

    _CAMPAIGN_COLUMNS = (
        "id, advertiser, headline, body, url, keywords, categories, languages, cpm_micros, "
        "budget_micros, daily_budget_micros, spent_micros, start_at, end_at, status, guild_id, "
        "created_by, created_at, advertiser_id")

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
                           status: str, guild_id: str | None, created_by: str,
                           advertiser_id: int | None = None) -> int:
        """Store a validated campaign; returns its id. `advertiser_id` (the operator's
        choice, never a name's lookup) links it to an advertiser account; a server's
        campaign (`guild_id`) belongs to that server alone and cannot have one."""
        if guild_id is not None and advertiser_id is not None:
            raise ValueError("a server's campaign belongs to that server alone")
        async with self._transaction() as db:
            campaign_id = await self._insert(
                db, "INSERT INTO campaigns (advertiser, headline, body, url, keywords, "
                "categories, languages, cpm_micros, budget_micros, daily_budget_micros, "
                "start_at, end_at, status, guild_id, created_by, created_at, advertiser_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (storable(advertiser), storable(headline), storable(body), storable(url),
                 json.dumps(keywords), json.dumps(categories), json.dumps(languages),
                 cpm_micros, budget_micros, daily_budget_micros, start_at, end_at, status,
                 guild_id, created_by, self._now(), advertiser_id))
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

    async def link_campaign(self, campaign_id: int, advertiser_id: int | None, *,
                            actor: str) -> bool:
        """Give a campaign to an advertiser account (None: to none); audited. False when
        the campaign or the account is unknown, or the campaign is a server's own."""
        async with self._transaction() as db:
            count = await db.execute(
                "UPDATE campaigns SET advertiser_id = ? WHERE id = ? AND guild_id IS NULL "
                "AND (CAST(? AS INTEGER) IS NULL "
                "OR EXISTS (SELECT 1 FROM advertisers WHERE id = ?))",
                (advertiser_id, campaign_id, advertiser_id, advertiser_id))
            if count:
                await self._audit(db, actor, "campaign link", f"campaign {campaign_id}",
                                  f"advertiser {advertiser_id}", "")
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
                                delivery_ref: str | None = None, every_n_replies: int = 0,
                                max_per_day: int | None = None, personalised: bool = False,
                                tier: str | None = None) -> int | None:
        """Charge one delivered impression and record it, atomically.

        The user's caps come first, under the user's lock: at most `max_per_day` ads on
        `day`, and after a first ad, one only once `every_n_replies` assistant replies
        followed the last. Checked here, in the transaction that records the ad, and not
        only when it was chosen: replies delivered at once all passed that check.
        Then the UPDATE's WHERE clause is the budget guard: spend, daily spend and
        status are checked and changed in one statement, and the campaign's lock (taken
        second, always in that order) makes the daily sum it reads include every charge
        committed before, so no number of concurrent deliveries, in any number of
        processes, can take a user past a cap or a campaign past its budget. Returns the
        impression id, or None when not charged.
        """
        async with self._transaction() as db:
            if user_id is not None:
                await db.lock(f"ads user {user_id}")
                today, since, ever = await self._ad_counters(db, user_id, day)
                if max_per_day is not None and today >= max_per_day:
                    return None
                if ever and since < every_n_replies:
                    return None
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
                "delivery_ref, cost_micros, day, at, personalised, tier) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, user_id, platform, storable(matched), delivery_ref,
                 cost_micros, day, self._now(), int(personalised), tier))

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
        return await self._ad_counters(self._db, user_id, day)

    @staticmethod
    async def _ad_counters(db: Queries, user_id: int, day: str) -> tuple[int, int, bool]:
        row = await db.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE day = ?), MAX(at) FROM impressions WHERE user_id = ?",
            (day, user_id))
        today = int(row[0]) if row else 0
        last = row[1] if row else None
        since = await db.fetchrow(
            "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.user_id = ? AND m.role = 'assistant' AND m.created_at > ?",
            (user_id, last or ""))
        return today, int(since[0]) if since else 0, last is not None

    async def impression_basis(self, impression_id: int
                               ) -> tuple[int | None, str, bool, str | None] | None:
        """(user, matched words, personalised, tier) of an impression: what "why this
        ad?" says about it."""
        row = await self._db.fetchrow(
            "SELECT user_id, matched, personalised, tier FROM impressions WHERE id = ?",
            (impression_id,))
        if row is None:
            return None
        return (None if row[0] is None else int(row[0]), str(row[1]), bool(row[2]),
                None if row[3] is None else str(row[3]))

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
