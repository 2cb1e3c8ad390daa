"""Campaign figures: impressions, clicks, CTR and spend, in total and per day."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.money.campaigns import money
from bot.store import Campaign, CampaignDay


@dataclass
class CampaignReport:
    """Figures of one campaign."""

    campaign: Campaign
    impressions: int = 0
    clicks: int = 0
    days: list[CampaignDay] = field(default_factory=list)

    @property
    def ctr(self) -> float:
        """Clicks per impression."""
        return self.clicks / self.impressions if self.impressions else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        c = self.campaign
        return {
            "id": c.id, "advertiser": c.advertiser, "status": c.status,
            "impressions": self.impressions, "clicks": self.clicks, "ctr": round(self.ctr, 4),
            "spent": money(c.spent_micros), "budget": money(c.budget_micros),
            "remaining": money(c.budget_micros - c.spent_micros),
            "days": [{"day": d.day, "impressions": d.impressions, "clicks": d.clicks,
                      "spent": money(d.spent_micros)} for d in self.days],
        }
