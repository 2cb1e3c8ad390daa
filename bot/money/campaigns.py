"""Campaign terms: the spec an operator writes (TOML) or an admin sends, its validation,
its stored form (money in micro-units), and money as text."""

from __future__ import annotations

import tomllib
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bot.safety.topics import CATEGORIES
from bot.store import iso

MICROS = 1_000_000


# What RFC 3986 never allows unencoded in an address (quotes would end an HTML attribute).
_NOT_IN_URLS = '"<>\\^`{|}'


def check_url(value: str) -> str:
    """An http(s) address with a host and nothing that could end a line or a header:
    the URL is printed in the sponsored block and sent as a link, so a newline in it
    would be a line (or a header) of its own."""
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in value):
        raise ValueError("must not contain spaces, line breaks or control characters")
    if any(c in _NOT_IN_URLS for c in value):
        raise ValueError(f"must not contain any of {_NOT_IN_URLS} (percent-encode them)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("is not a valid address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// address")
    if not parts.hostname:
        raise ValueError("needs a host name, such as https://example.com/")
    return value


class CampaignFileError(Exception):
    """A campaign file is invalid; the message names the campaign and the field."""


class CampaignSpec(BaseModel):
    """One campaign as an operator writes it (TOML) or an admin sends it."""

    model_config = {"extra": "forbid"}

    advertiser: str = Field(min_length=1, max_length=60)
    headline: str = Field(min_length=1, max_length=80)
    body: str = Field("", max_length=200)
    url: str = Field(min_length=8, max_length=500)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    categories: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    cpm: Decimal = Field(gt=0, le=10_000, description="price per 1,000 impressions")
    budget: Decimal = Field(gt=0, le=10_000_000)
    daily_budget: Decimal | None = Field(None, gt=0)
    start: date
    end: date
    status: Literal["draft", "active", "paused"] = "active"

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        return check_url(value)

    @field_validator("keywords")
    @classmethod
    def _short_keywords(cls, value: list[str]) -> list[str]:
        cleaned = [k.strip() for k in value if k.strip()]
        if any(len(k) > 40 for k in cleaned):
            raise ValueError("each keyword must be at most 40 characters")
        return cleaned

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {sorted(CATEGORIES)}")
        return value

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        if any(len(code) != 2 or not code.isalpha() for code in codes):
            raise ValueError("languages are two-letter codes such as en, fr")
        return codes

    @field_validator("cpm")
    @classmethod
    def _billable(cls, value: Decimal) -> Decimal:
        if value * MICROS / 1000 < 1:
            raise ValueError("cpm must be at least 0.001 (one micro-unit per impression)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> CampaignSpec:
        if not self.keywords and not self.categories:
            raise ValueError("give keywords and/or categories to match")
        if self.end < self.start:
            raise ValueError("end is before start")
        if self.end >= date(9999, 12, 31):  # the flight is stored as [start, end + 1 day)
            raise ValueError("end is too far away (before 9999-12-31)")
        if self.daily_budget is not None and self.daily_budget > self.budget:
            raise ValueError("daily_budget is larger than budget")
        return self


def terms(spec: CampaignSpec) -> dict[str, Any]:
    """A spec's terms as stored: money in micro-units, the flight as [start, end + 1 day)."""
    start = datetime.combine(spec.start, time(), UTC)
    end = datetime.combine(spec.end + timedelta(days=1), time(), UTC)
    return {"headline": spec.headline, "body": spec.body, "url": spec.url,
            "keywords": spec.keywords, "categories": spec.categories,
            "languages": spec.languages, "cpm_micros": int(spec.cpm * MICROS),
            "budget_micros": int(spec.budget * MICROS),
            "daily_budget_micros": int(spec.daily_budget * MICROS) if spec.daily_budget else None,
            "start_at": iso(start), "end_at": iso(end)}


def parse_campaigns(text: str, source: str = "campaign file") -> list[CampaignSpec]:
    """Parse and validate a TOML file of `[[campaign]]` tables."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignFileError(f"{source}: not valid TOML ({exc})") from None
    entries = data.get("campaign")
    if not isinstance(entries, list) or not entries:
        raise CampaignFileError(f"{source}: no [[campaign]] table found")
    specs = []
    for number, entry in enumerate(entries, start=1):
        name = entry.get("advertiser", "?") if isinstance(entry, dict) else "?"
        try:
            specs.append(CampaignSpec.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "campaign"
            message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
            raise CampaignFileError(
                f"{source}: campaign {number} ({name}): {where}: {message}") from None
    return specs


def money(micros: int) -> str:
    """Micro-units as an exact decimal amount: two decimals, more only when needed."""
    if micros % 10_000 == 0:
        return f"{Decimal(micros) / MICROS:.2f}"
    return f"{(Decimal(micros) / MICROS).normalize():f}"
