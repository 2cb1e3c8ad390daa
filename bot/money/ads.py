"""Sponsored replies: campaigns, where an ad may appear, which one, and its accounting.

The rules, all enforced here and tested in tests/money/test_ads.py:
- never to a premium tier, never next to a sensitive topic (in the message or the
  answer), never in a Discord server whose admins did not turn sponsors on;
- at most one ad per N replies and M per day per user (a first eligible reply may
  carry one);
- matched on the user's current message only, unless they opted in to personalisation;
- chosen by relevance x bid among campaigns with budget left and on pace;
- never inside the prompt: it is chosen after the answer is complete and stored;
- charged only once delivered, in one statement that cannot exceed the budget.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.metrics import Metrics
from bot.money.campaigns import (
    MICROS,
    CampaignFileError,
    CampaignSpec,
    money,
    parse_campaigns,
    terms,
)
from bot.money.reports import CampaignReport
from bot.money.tiers import Tier
from bot.money.wording import explain, explain_to_another
from bot.safety.topics import commercial_categories, matches, sensitive_topics
from bot.store import Campaign, Store, iso

# The names callers imported from here before the split (campaigns, reports, wording).
__all__ = ["MICROS", "AdContext", "AdOffer", "Ads", "CampaignFileError", "CampaignReport",
           "CampaignSpec", "explain", "money", "parse_campaigns"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class AdContext:
    """What ad selection may look at: the tier, this exchange, and where it happens."""

    platform: str  # "local", "discord", "whatsapp"
    user_id: int  # internal id: ads never see platform ids
    tier: Tier
    message: str
    answer: str
    locale: str = "en"
    guild_id: str | None = None
    history: str = ""  # used only when the user opted in to personalisation
    # The user's saved memories, newest first: only what `Memories.for_ads` allows
    # (empty unless the user opted in), so an ad never sees a memory otherwise.
    memories: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdOffer:
    """A chosen ad, not yet charged; `delivered()` charges it."""

    campaign: Campaign
    matched: tuple[str, ...]
    cost_micros: int
    context: AdContext
    day: str
    personalised: bool = False
    memory: str | None = None  # the saved memory the match used, named in "why"


class Ads:
    """Campaign management, eligibility, selection and accounting."""

    def __init__(self, settings: Settings, store: Store, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics

    # Campaigns ----------------------------------------------------------------------

    async def add(self, specs: list[CampaignSpec], *, actor: str,
                  guild_id: str | None = None, advertiser_id: int | None = None) -> list[int]:
        """Store validated campaigns: a server's own when `guild_id` is given, an
        advertiser account's when the operator gives `advertiser_id` (never both)."""
        return [await self.store.add_campaign(
            advertiser=spec.advertiser, status=spec.status, guild_id=guild_id, created_by=actor,
            advertiser_id=advertiser_id, **terms(spec)) for spec in specs]

    async def link(self, campaign_id: int, advertiser_id: int | None, *, actor: str) -> bool:
        """The operator gives a campaign to an advertiser account (None: takes it back).
        False when either is unknown or the campaign is a server's own."""
        return await self.store.link_campaign(campaign_id, advertiser_id, actor=actor)

    async def update(self, campaign_id: int, spec: CampaignSpec, *, actor: str) -> bool:
        """Change a campaign's terms (not its advertiser, status or spend); False when it
        has ended or the budget would be below what it spent."""
        return await self.store.update_campaign(campaign_id, actor=actor, **terms(spec))

    async def add_file(self, path: Path, *, actor: str) -> list[int]:
        """Validate and add every campaign of a TOML file (all or nothing)."""
        try:
            text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CampaignFileError(f"{path}: cannot read it ({exc})") from None
        return await self.add(parse_campaigns(text, str(path)), actor=actor)

    async def pause(self, campaign_id: int, actor: str) -> bool:
        """Pause an active campaign."""
        return await self.store.set_campaign_status(
            campaign_id, "paused", allowed_from=("active",), actor=actor)

    async def resume(self, campaign_id: int, actor: str) -> bool:
        """Resume a paused (or draft) campaign."""
        return await self.store.set_campaign_status(
            campaign_id, "active", allowed_from=("paused", "draft"), actor=actor)

    # Eligibility and choice ---------------------------------------------------------

    async def placement_blocked(self, ctx: AdContext) -> str | None:
        """Why no ad may appear here (None when one may)."""
        if not ctx.tier.spec.ads:
            return "premium"
        if ctx.platform == "local" and not self.settings.ads_terminal:
            return "surface off"
        if ctx.platform == "whatsapp" and not self.settings.ads_whatsapp:
            return "surface off"
        if ctx.platform == "discord":
            chosen = await self.store.guild_ads(ctx.guild_id) if ctx.guild_id else None
            if not (self.settings.ads_discord_default if chosen is None else chosen):
                return "server off"
        if sensitive_topics(ctx.message) or sensitive_topics(ctx.answer):
            return "sensitive"
        today, since, ever = await self.store.ad_counters(ctx.user_id, self._day())
        if today >= self.settings.ads_max_per_day:
            return "daily cap"
        if ever and since < self.settings.ads_every_n_replies:
            return "frequency cap"
        return None

    def _day(self) -> str:
        return self.store.now().date().isoformat()

    def _on_pace(self, campaign: Campaign, now: datetime, cost: int) -> bool:
        start = datetime.fromisoformat(campaign.start_at)
        end = datetime.fromisoformat(campaign.end_at)
        flight = (end - start).total_seconds()
        elapsed = min(1.0, max(0.0, (now - start).total_seconds() / flight)) if flight else 1.0
        after = (campaign.spent_micros + cost) / campaign.budget_micros
        return after <= elapsed + self.settings.ads_pacing_slack

    async def choose(self, ctx: AdContext) -> AdOffer | None:
        """The ad to show after this answer, if any (nothing is charged yet)."""
        if await self.placement_blocked(ctx):
            return None
        await self.store.end_finished_campaigns()
        personal = bool(ctx.history or ctx.memories) and await self.store.personalize(
            ctx.user_id)
        memories = ctx.memories if personal else ()
        text = "\n".join([ctx.message, *memories, ctx.history]) if personal else ctx.message
        categories = commercial_categories(text)
        now, day = self.store.now(), self._day()
        best: tuple[float, AdOffer] | None = None
        for campaign in await self.store.campaigns(status="active"):
            if not (campaign.start_at <= iso(now) < campaign.end_at):
                continue
            if ctx.locale not in campaign.languages:
                continue
            if campaign.guild_id is not None and campaign.guild_id != ctx.guild_id:
                continue
            cost = campaign.cpm_micros // 1000
            if campaign.spent_micros + cost > campaign.budget_micros:
                continue
            if campaign.daily_budget_micros is not None and (
                    await self.store.day_spend(campaign.id, day) + cost
                    > campaign.daily_budget_micros):
                continue
            if not self._on_pace(campaign, now, cost):
                continue
            matched = matches(text, campaign.keywords) + sorted(
                categories & set(campaign.categories))
            if not matched:
                continue
            score = len(matched) * campaign.cpm_micros
            used = memory_used(memories, campaign)
            offer = AdOffer(campaign, tuple(matched), cost, ctx, day, personal, used)
            if best is None or score > best[0]:
                best = (score, offer)
        return best[1] if best else None

    async def delivered(self, offer: AdOffer, delivery_ref: str | None = None) -> int | None:
        """The block reached the user: record and charge it (None if it could not be).

        `delivery_ref` names what was delivered (a Discord message id) so that a later
        click on it finds its impression."""
        impression = await self.store.charge_impression(
            offer.campaign.id, offer.cost_micros, user_id=offer.context.user_id,
            platform=offer.context.platform, matched=", ".join(offer.matched), day=offer.day,
            delivery_ref=delivery_ref, every_n_replies=self.settings.ads_every_n_replies,
            max_per_day=self.settings.ads_max_per_day, personalised=offer.personalised,
            tier=offer.context.tier.name)
        if impression is None:
            log.info("impression of campaign %s not charged: a user cap, the budget or the "
                     "status changed", offer.campaign.id)
        elif self.metrics is not None:
            self.metrics.ad_impressions.inc()
            self.metrics.ad_spend.inc(offer.cost_micros)
        return impression

    async def click(self, impression_id: int) -> tuple[bool, str | None]:
        """Record a click (once per impression); returns (counted, the link)."""
        campaign = await self.store.impression_campaign(impression_id)
        if campaign is None:
            return False, None
        counted = await self.store.record_click(impression_id)
        if counted and self.metrics is not None:
            self.metrics.ad_clicks.inc()
        return counted, campaign.url

    # Words --------------------------------------------------------------------------

    def why(self, offer: AdOffer, locale: str = "en") -> str:
        """Why this ad: who paid, what matched, the tier, and the ways out."""
        return explain(offer.campaign.advertiser, offer.matched, offer.personalised,
                       offer.context.tier.name, locale, offer.memory)

    async def why_impression(self, impression_id: int, viewer_id: int,
                             memories: tuple[str, ...], locale: str = "en") -> str | None:
        """"Why this ad?" for an ad delivered earlier (a button pressed after the fact):
        the words it matched, whether the user's conversation was used, the saved memory
        among `memories` (the viewer's, as `Memories.for_ads` allows) that matched, and
        their tier then. Someone else than the user it was shown to learns only who paid.
        None when the impression is unknown."""
        campaign = await self.store.impression_campaign(impression_id)
        basis = await self.store.impression_basis(impression_id)
        if campaign is None or basis is None:
            return None
        user_id, matched, personalised, tier = basis
        if user_id != viewer_id:
            return explain_to_another(campaign.advertiser, locale)
        memory = memory_used(memories, campaign) if personalised else None
        return explain(campaign.advertiser, matched.split(", "), personalised,
                       tier or "free", locale, memory)

    def block(self, offer: AdOffer, locale: str = "en") -> str:
        """The sponsored block as plain text (terminal, WhatsApp)."""
        c = offer.campaign
        lines = [f"Sponsored · {c.advertiser}", c.headline]
        if c.body:
            lines.append(c.body)
        lines.append(c.url)
        lines.append(self.why(offer, locale))
        return "\n".join(lines)

    # Reports ------------------------------------------------------------------------

    async def report(self) -> list[CampaignReport]:
        """Per campaign: impressions, clicks, CTR, spend, remaining, per day."""
        reports = {c.id: CampaignReport(c) for c in await self.store.campaigns()}
        for day in await self.store.campaign_days():
            report = reports.get(day.campaign_id)
            if report is not None:
                report.days.append(day)
                report.impressions += day.impressions
                report.clicks += day.clicks
        return list(reports.values())


def memory_used(memories: tuple[str, ...], campaign: Campaign) -> str | None:
    """The first (newest) saved memory that matches the campaign, named in "why"."""
    return next((m for m in memories if matches(m, campaign.keywords)
                 or commercial_categories(m) & set(campaign.categories)), None)
