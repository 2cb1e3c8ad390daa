"""Form fields to the core's own validated values, and back, with one error per field.

The rules are the core's (`bot.money.campaigns.CampaignSpec`, `bot.user_refs`); this module only
moves text between HTML forms and them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import ValidationError

from bot.money.campaigns import CampaignSpec, money
from bot.store import Campaign
from bot.user_refs import normalize_user_ref

Form = MultiDictProxy[Any]

CAMPAIGN_TEXT_FIELDS = ("headline", "body", "url", "keywords", "languages", "cpm", "budget",
                        "daily_budget", "start", "end")
# Whole-campaign errors of CampaignSpec, shown next to the field they concern.
_MODEL_ERRORS = {"keywords and/or categories": "keywords", "end is before start": "end",
                 "daily_budget": "daily_budget"}


def _text(form: Form, name: str) -> str:
    return str(form.get(name, "")).strip()


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def campaign_form_values(campaign: Campaign | None) -> dict[str, Any]:
    """An edit form filled from a stored campaign (a new one: sensible defaults)."""
    if campaign is None:
        today = date.today()
        return {"advertiser": "", "headline": "", "body": "", "url": "https://",
                "keywords": "", "categories": [], "languages": "en", "cpm": "5.00",
                "budget": "100.00", "daily_budget": "", "start": today.isoformat(),
                "end": (today + timedelta(days=30)).isoformat(), "status": "active"}
    end = date.fromisoformat(campaign.end_at[:10]) - timedelta(days=1)
    return {"advertiser": campaign.advertiser, "headline": campaign.headline,
            "body": campaign.body, "url": campaign.url, "keywords": ", ".join(campaign.keywords),
            "categories": list(campaign.categories), "languages": ", ".join(campaign.languages),
            "cpm": money(campaign.cpm_micros), "budget": money(campaign.budget_micros),
            "daily_budget": money(campaign.daily_budget_micros)
            if campaign.daily_budget_micros else "",
            "start": campaign.start_at[:10], "end": end.isoformat(), "status": campaign.status}


def parse_campaign(form: Form) -> tuple[dict[str, Any], CampaignSpec | None, dict[str, str]]:
    """(the values as typed, the validated spec or None, errors by field)."""
    values: dict[str, Any] = {name: _text(form, name) for name in CAMPAIGN_TEXT_FIELDS}
    values["advertiser"] = _text(form, "advertiser")
    values["categories"] = [str(c) for c in form.getall("categories", [])]
    values["status"] = _text(form, "status") or "active"
    data: dict[str, Any] = {
        "advertiser": values["advertiser"], "headline": values["headline"],
        "body": values["body"], "url": values["url"],
        "keywords": _list(values["keywords"]), "categories": values["categories"],
        "languages": _list(values["languages"]) or ["en"], "cpm": values["cpm"] or None,
        "budget": values["budget"] or None, "daily_budget": values["daily_budget"] or None,
        "start": values["start"] or None, "end": values["end"] or None,
        "status": values["status"]}
    try:
        return values, CampaignSpec.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            loc = error.get("loc") or ()
            field = str(loc[0]) if loc else next(
                (f for words, f in _MODEL_ERRORS.items() if words in message), "headline")
            errors.setdefault(field, message)
        return values, None, errors


def parse_user(form: Form, name: str = "user") -> tuple[str, str | None, str]:
    """(the user ref as typed, its stored form or None, the error when it is not one)."""
    typed = _text(form, name)
    try:
        return typed, normalize_user_ref(typed), ""
    except ValueError as exc:
        return typed, None, str(exc)


# The largest id both databases hold (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def path_id(text: str) -> int:
    """A row id from the URL (the route's pattern already took digits only); 400 with a
    message when no row could have it."""
    value = int(text)
    if not 0 < value <= MAX_ID:
        raise web.HTTPBadRequest(text=f"{text} is not an id: ids go from 1 to {MAX_ID}.")
    return value


def bounded_days(text: str, maximum: int, name: str) -> int | None:
    """A whole number of days from 0 to `maximum` typed in a field or query (None when
    empty); 400 with a message when it is something else."""
    if not text:
        return None
    if not text.isdigit() or int(text) > maximum:
        raise web.HTTPBadRequest(text=f"{name} is a whole number of days from 0 to {maximum}.")
    return int(text)


def with_notice(path: str, notice: str) -> str:
    """Where to go after a change, with the line that says what was done (shown as text)."""
    return f"{path}?{urlencode({'notice': notice[:300]})}"
