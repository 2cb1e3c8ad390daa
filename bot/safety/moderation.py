"""Moderation of what goes into the model and what comes out of it.

One interface, two implementations: the built-in intent patterns (`moderation_patterns`, the
default) and any endpoint that speaks the OpenAI `/v1/moderations` API
(`MODERATION_URL`). Which categories are refused is decided here too: the operator's
floor (`MODERATION_FLOOR`, always refused) plus a server's own choice, or
`MODERATION_DEFAULT` where its admins never chose.

When the endpoint cannot answer (slow, 5xx, malformed JSON) the check falls back as
configured: input fails closed by default (the message is refused with "cannot check
right now"), output fails open to the built-in lists; either way it is logged and
counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aiohttp

from bot.safety.moderation_patterns import CATEGORIES
from bot.safety.topics import moderation_categories

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

__all__ = ["CATEGORIES", "Moderation", "Verdict"]


class ModerationUnavailable(Exception):
    """The moderation endpoint could not give an answer."""


@dataclass(frozen=True)
class Verdict:
    """What a moderator found: the categories a text falls in (empty when none)."""

    categories: frozenset[str] = frozenset()
    source: Literal["builtin", "endpoint", "unavailable"] = "builtin"

    def refused(self, refused: Iterable[str]) -> list[str]:
        """The categories found that are refused, sorted."""
        return sorted(self.categories & set(refused))


class Moderator(Protocol):
    """Classifies a text into moderation categories."""

    async def classify(self, text: str) -> Verdict: ...


# Up to this many characters, the keyword scan (0.1-0.4 ms) runs on the loop: a trip
# to a worker thread costs as much, on every message's way to the model.
INLINE_CHARS = 500


class KeywordModerator:
    """The built-in intent patterns: transparent, local, English and French."""

    async def classify(self, text: str) -> Verdict:
        """Categories by keyword, off the event loop when the text is long."""
        if len(text) <= INLINE_CHARS:
            found = moderation_categories(text)
        else:
            found = await asyncio.to_thread(moderation_categories, text)
        return Verdict(frozenset(found), "builtin")


@dataclass
class EndpointModerator:
    """An OpenAI-compatible `/v1/moderations` endpoint."""

    url: str
    session: aiohttp.ClientSession | None = None  # None: one per request
    api_key: str | None = None
    model: str | None = None
    timeout_s: float = 5.0
    max_chars: int = 20_000  # inputs are cut to the endpoint's limit before sending

    async def classify(self, text: str) -> Verdict:
        """The endpoint's verdict; ModerationUnavailable when it gives none."""
        if self.session is None:
            async with aiohttp.ClientSession() as session:
                return await self._classify(session, text)
        return await self._classify(self.session, text)

    async def _classify(self, session: aiohttp.ClientSession, text: str) -> Verdict:
        payload: dict[str, Any] = {"input": text[: self.max_chars]}
        if self.model:
            payload["model"] = self.model
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            async with session.post(
                    self.url, json=payload, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as response:
                if response.status != 200:
                    raise ModerationUnavailable(f"HTTP {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ModerationUnavailable(f"{type(exc).__name__}: {exc}") from None
        return Verdict(parse_moderation(body), "endpoint")


def parse_moderation(body: Any) -> frozenset[str]:
    """The flagged categories of a `/v1/moderations` answer (ModerationUnavailable when
    it is malformed)."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ModerationUnavailable("malformed answer: no results")
    found: set[str] = set()
    for result in body["results"]:
        if not isinstance(result, dict) or not isinstance(result.get("categories"), dict):
            raise ModerationUnavailable("malformed answer: a result has no categories")
        for name, flagged in result["categories"].items():
            if flagged is True:
                # Unknown categories are kept: the policy refuses only those it names.
                found.add(str(name))
    return frozenset(found)


@dataclass
class Moderation:
    """Moderation as the pipeline uses it: classify, fall back, and apply the policy."""

    moderator: Moderator
    floor: frozenset[str]
    default: frozenset[str]
    input_fail: Literal["closed", "open"] = "closed"
    output_fail: Literal["closed", "open"] = "open"
    fallback: Moderator = field(default_factory=KeywordModerator)
    errors: int = 0  # endpoint failures since start
    on_error: Callable[[str], None] | None = None  # told the direction of each failure

    @classmethod
    def from_settings(cls, settings: Settings) -> Moderation:
        """The built-in lists, or the endpoint at MODERATION_URL, with the policy."""
        moderator: Moderator = KeywordModerator()
        if settings.moderation_url:
            key = settings.moderation_api_key
            moderator = EndpointModerator(
                settings.moderation_url, api_key=key.get_secret_value() if key else None,
                model=settings.moderation_model or None,
                timeout_s=settings.moderation_timeout_seconds,
                max_chars=settings.moderation_max_chars)
        return cls(moderator, frozenset(settings.moderation_floor),
                   frozenset(settings.moderation_default),
                   settings.moderation_input_fail, settings.moderation_output_fail)

    def refused_categories(self, chosen: Iterable[str] | None) -> frozenset[str]:
        """What a place refuses: the floor plus its admins' choice (or the default)."""
        return self.floor | (self.default if chosen is None else frozenset(chosen))

    async def check(self, text: str, *, direction: Literal["input", "output"]) -> Verdict:
        """Classify `text`; when the endpoint is down, fail closed or fall back."""
        try:
            return await self.moderator.classify(text)
        except ModerationUnavailable as exc:
            self.errors += 1
            if self.on_error is not None:
                self.on_error(direction)
            mode = self.input_fail if direction == "input" else self.output_fail
            log.warning("moderation endpoint unavailable (%s): %s; failing %s", direction, exc,
                        mode)
            if mode == "closed":
                return Verdict(frozenset(), "unavailable")
            return await self.fallback.classify(text)


@dataclass
class OutputWatch:
    """Checks an answer as it grows (each sentence, or every `every_chars`), and once
    more when it ends; remembers what it found."""

    moderation: Moderation
    refused: frozenset[str]
    every_chars: int = 200
    checked: int = 0
    flagged: tuple[str, ...] = ()

    async def observe(self, text: str, *, final: bool = False) -> bool:
        """True once the text falls under a refused category (then stop the answer)."""
        if self.flagged or not self.refused or len(text) <= self.checked:
            return bool(self.flagged)
        grown = text[self.checked:]
        if not final and len(grown) < self.every_chars and not _sentence_ended(grown):
            return False
        self.checked = len(text)
        verdict = await self.moderation.check(text, direction="output")
        if verdict.source == "unavailable":  # failing closed: nothing unchecked is shown
            self.flagged = ("unchecked",)
        else:
            self.flagged = tuple(verdict.refused(self.refused))
        return bool(self.flagged)


def _sentence_ended(text: str) -> bool:
    return any(mark in text for mark in (". ", "! ", "? ", "\n", "。"))
