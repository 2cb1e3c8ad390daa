"""People in crisis get help: detection, the caring opening, and the crisis lines.

Decided by code and data, before the model: a small local model cannot be trusted to
answer "I want to kill myself tonight" well, so when a message expresses suicidal intent
or self-harm the answer opens with a fixed, caring message in the user's language and
the crisis lines for their country or language (`CRISIS_RESOURCES`, data), and the model
answers under a safety system prompt that no operator, channel or persona can remove.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from bot.locales import t
from bot.safety.crisis_patterns import crisis_in
from bot.safety.normalize import normalize

# Where no country is known and no line speaks the language: a directory of them all.
INTERNATIONAL = "*"


class CrisisLine(BaseModel):
    """One crisis line: where it answers, in which languages, and how to reach it."""

    country: str  # ISO 3166 code, or "*" for an international directory
    languages: list[str]
    text: str


DEFAULT_CRISIS_RESOURCES: list[CrisisLine] = [
    CrisisLine(country="FR", languages=["fr"],
               text="France : 3114, numéro national de prévention du suicide (24h/24, gratuit)"),
    CrisisLine(country="US", languages=["en"],
               text="United States: call or text 988 (Suicide & Crisis Lifeline, 24/7)"),
    CrisisLine(country="GB", languages=["en"],
               text="United Kingdom: Samaritans, 116 123 (free, 24/7)"),
    CrisisLine(country="IE", languages=["en"],
               text="Ireland: Samaritans, 116 123 (free, 24/7)"),
    CrisisLine(country="CA", languages=["en", "fr"],
               text="Canada: call or text 988 / appelez ou textez le 988 (24/7)"),
    CrisisLine(country="BE", languages=["fr"],
               text="Belgique : Centre de Prévention du Suicide, 0800 32 123 (24h/24)"),
    CrisisLine(country="CH", languages=["fr"],
               text="Suisse : La Main Tendue, 143 (24h/24)"),
    # Shown by country only (the country comes from the Discord locale or the phone
    # number): no language list, so they never crowd another country's answer.
    CrisisLine(country="DE", languages=[],
               text="Deutschland: TelefonSeelsorge, 0800 111 0 111 / 0800 111 0 222 (24/7)"),
    CrisisLine(country="AT", languages=[], text="Österreich: TelefonSeelsorge, 142 (24/7)"),
    CrisisLine(country="ES", languages=[],
               text="España: 024, línea de atención a la conducta suicida (24/7)"),
    CrisisLine(country="NL", languages=[],
               text="Nederland: 113 Zelfmoordpreventie, 113 of 0800 0113 (24/7)"),
    CrisisLine(country="AU", languages=[], text="Australia: Lifeline, 13 11 14 (24/7)"),
    CrisisLine(country="NZ", languages=[],
               text="New Zealand: call or text 1737 (24/7)"),
    CrisisLine(country="BR", languages=[], text="Brasil: CVV, 188 (24h)"),
    CrisisLine(country="IN", languages=[], text="India: Tele-MANAS, 14416 (24/7)"),
    CrisisLine(country=INTERNATIONAL, languages=["en", "fr"],
               text="Elsewhere / Ailleurs : https://findahelpline.com"),
]


@dataclass(frozen=True)
class Crisis:
    """A message that expresses suicidal intent or self-harm, and how to answer it."""

    language: str  # the language to answer the opening in
    matched: tuple[str, ...]  # the phrases that matched (never stored, never logged)


def detect_crisis(text: str, locale: str = "en") -> Crisis | None:
    """A Crisis when `text` expresses suicidal intent or self-harm, else None.

    Read in its canonical form (`normalize`: case, accents, leetspeak, stretched letters,
    missing apostrophes) against intent patterns (`crisis_patterns`). The language is
    the one whose patterns matched; when several did, the surface's locale (when it is
    one of them), else the first that matched.
    """
    found = crisis_in(normalize(text))
    if not found:
        return None
    language = locale if locale in found else next(iter(found))
    return Crisis(language, tuple(found.values()))


def crisis_lines(resources: Sequence[CrisisLine], language: str,
                 country: str | None = None) -> list[str]:
    """The lines to show: the user's country's first when known, then their language's,
    then the international directory."""
    chosen: list[CrisisLine] = []
    if country:
        chosen += [r for r in resources if r.country.upper() == country.upper()]
    chosen += [r for r in resources
               if language in r.languages and r.country != INTERNATIONAL and r not in chosen]
    chosen += [r for r in resources if r.country == INTERNATIONAL and r not in chosen]
    return [r.text for r in chosen]


def crisis_opening(resources: Sequence[CrisisLine], crisis: Crisis,
                   country: str | None = None) -> str:
    """The fixed, caring message and the crisis lines that open the answer."""
    lines = crisis_lines(resources, crisis.language, country)
    return "\n".join([t("crisis_opening", crisis.language), *(f"- {line}" for line in lines)])
