"""Platform-neutral helpers for showing a streamed answer in chat messages:
splitting under a length limit, and pacing message edits."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_FENCE = re.compile(r"^[ \t]*```(.*)$")
_CLOSE = "\n```"


@dataclass(frozen=True)
class Chunk:
    """One message's worth of text: `piece` is a slice of the original text; `prefix`
    and `suffix` re-open and close a code fence that the split cut through."""

    piece: str
    prefix: str = ""
    suffix: str = ""

    @property
    def text(self) -> str:
        """What to send."""
        return f"{self.prefix}{self.piece}{self.suffix}"


def _fence_after(text: str, open_lang: str | None) -> str | None:
    """The fence language still open after `text` (None when no fence is open)."""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match:
            open_lang = None if open_lang is not None else match.group(1).strip()
    return open_lang


def _cut_point(text: str, budget: int) -> int:
    """Where to end a piece of at most `budget` characters: after a paragraph break,
    a line break or a space if there is one in the second half, else hard."""
    window = text[:budget]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at >= budget // 2:
            return at + len(separator)
    at = window.rfind(" ")  # a short first word is better than a broken one
    return at + 1 if at > 0 else budget


def split_chunks(text: str, limit: int = 2000) -> list[Chunk]:
    """Split `text` into chunks of at most `limit` characters without breaking words
    (unless a word is longer than a chunk) and with code fences balanced in each."""
    if limit < 40:
        raise ValueError("limit too small to hold a fence and some text")
    chunks: list[Chunk] = []
    start, lang = 0, None
    while True:
        # A long info string is not worth repeating; the fence itself is what matters.
        prefix = f"```{lang if len(lang) <= 16 else ''}\n" if lang is not None else ""
        budget = limit - len(prefix) - len(_CLOSE)
        rest = text[start:]
        if len(prefix) + len(rest) <= limit and _fence_after(rest, lang) is None:
            chunks.append(Chunk(rest, prefix))
            return chunks
        cut = _cut_point(rest, budget) if len(rest) > budget else len(rest)
        piece = rest[:cut]
        lang_after = _fence_after(piece, lang)
        suffix = _CLOSE if lang_after is not None else ""
        chunks.append(Chunk(piece, prefix, suffix))
        start += cut
        lang = lang_after
        if start >= len(text):
            return chunks


def split_text(text: str, limit: int = 2000) -> list[str]:
    """`split_chunks`, as the strings to send."""
    return [chunk.text for chunk in split_chunks(text, limit)]


@dataclass
class EditCadence:
    """Allows an edit at most once per `interval` seconds (Discord rate-limits edits
    to about five per five seconds per channel; one per second per message is safe)."""

    interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _last: float = field(default=float("-inf"), init=False)

    def ready(self) -> bool:
        """True when an edit may be sent now."""
        return self.clock() - self._last >= self.interval

    def mark(self) -> None:
        """Record that an edit was just sent."""
        self._last = self.clock()

    def wait_time(self) -> float:
        """Seconds until the next edit is allowed."""
        return max(0.0, self.interval - (self.clock() - self._last))
