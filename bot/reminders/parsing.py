"""Reading "remind me tomorrow at 9 to call the bank" / "rappelle-moi dans 2 heures de
…": when (by `parsedatetime`, in the user's time zone) and what. Code decides, never
the model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import parsedatetime

_TRIGGER = re.compile(
    r"^\s*(?:please\s+|stp\s+|s'il te pla[iî]t\s+)?(?:remind\s+me|"
    r"rappel(?:le|lez)[\s-]*(?:moi|-moi))\b[\s,:]*", re.IGNORECASE)
# French writes 9h, 9 h 30, 15h00: parsedatetime reads 9:00, 9:30, 15:00.
_FRENCH_HOUR = re.compile(r"\b(\d{1,2}) ?h(?: ?(\d{2}))?\b")
# A bare hour after "at"/"à" ("tomorrow at 10") is a time of day, not a count.
_BARE_HOUR = re.compile(r"\b(at|à)\s+(\d{1,2})\b(?![:.]\d| ?[ap]\.?m)", re.IGNORECASE)
_CONNECTOR = re.compile(r"^\s*(?:to|that|about|of|de|d'|d’|que|qu'|qu’|pour|:|-|,)\s*",
                        re.IGNORECASE)
_TRAILING = re.compile(r"\s*(?:\bat\b|\bon\b|\bà\b|\ble\b|,)\s*$", re.IGNORECASE)
_GAP = re.compile(r"^\s*(?:at|on|à|le|,)?\s*$", re.IGNORECASE)
_CALENDARS: dict[str, parsedatetime.Calendar] = {}


def is_reminder_request(text: str) -> bool:
    """Whether a message asks for a reminder ("remind me ...", "rappelle-moi ...")."""
    return _TRIGGER.match(text) is not None


@dataclass(frozen=True)
class ParsedReminder:
    """When (UTC) and what."""

    due: datetime
    task: str


def _calendar(locale: str) -> parsedatetime.Calendar:
    name = "fr_FR" if locale == "fr" else "en_US"
    if name not in _CALENDARS:
        _CALENDARS[name] = parsedatetime.Calendar(
            parsedatetime.Constants(name), version=parsedatetime.VERSION_CONTEXT_STYLE)
    return _CALENDARS[name]


def parse_reminder(text: str, now: datetime, zone: ZoneInfo,
                   locale: str = "en") -> ParsedReminder | None:
    """The time and task of a reminder request, or None when no time is found in it
    (either language is understood; `locale` is tried first)."""
    body = _TRIGGER.sub("", text, count=1).strip()
    body = _FRENCH_HOUR.sub(lambda m: f"{m.group(1)}:{m.group(2) or '00'}", body)
    body = _BARE_HOUR.sub(lambda m: f"{m.group(1)} {m.group(2)}:00", body)
    local_now = now.astimezone(zone).replace(tzinfo=None)
    for language in dict.fromkeys([locale, "en", "fr"]):
        calendar = _calendar(language)
        spans = calendar.nlp(body, sourceTime=local_now) or ()
        if not spans:
            continue
        # Adjacent pieces ("demain" + "à 9:00") are one moment: read them together.
        start, end = spans[0][2], spans[0][3]
        for _moment, _ctx, piece_start, piece_end, _words in spans[1:]:
            if _GAP.match(body[end:piece_start]):
                end = piece_end
        when, context = calendar.parseDT(body[start:end], sourceTime=local_now)
        if not context.hasDateOrTime:
            continue
        task = _TRAILING.sub("", body[:start]).strip() + " " + body[end:].strip()
        task = _CONNECTOR.sub("", task.strip()).strip()
        return ParsedReminder(when.replace(tzinfo=zone).astimezone(UTC), task)
    return None
