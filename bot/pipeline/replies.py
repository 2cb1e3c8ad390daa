"""What crosses the pipeline's boundary: an `Inbound` message from a surface, the `Reply`
a surface renders while it streams, and the `Outcome` once it is stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.engine import Generation
from bot.locales import t
from bot.money.tiers import Subject, TierDecision
from bot.store import Memory, MessageStatus

# The error of an answer that ended with no visible text (stored as failed).
EMPTY_ANSWER = "empty answer"


@dataclass(frozen=True)
class Inbound:
    """A message that arrived on some surface, in platform-neutral terms."""

    platform: str
    user: str
    conversation_key: str
    text: str
    locale: str = "en"
    role_refs: tuple[str, ...] = ()
    guild_ref: str | None = None
    entitlement_skus: tuple[str, ...] = ()
    region: str | None = None  # ISO country, when the surface knows it (crisis lines)

    @property
    def user_ref(self) -> str:
        """The user as `platform:id`, the form the CLI and logs use."""
        return f"{self.platform}:{self.user}"

    @property
    def subject(self) -> Subject:
        """What tier resolution looks at."""
        return Subject(self.user_ref, self.role_refs, self.guild_ref, self.entitlement_skus)


@dataclass(frozen=True)
class Resume:
    """A message whose answer a process that died had started (a surface that stores
    its messages knows): its user turn is stored already (None: a temporary chat kept
    none) and it was counted against the quota. Neither is done again."""

    user_message_id: int | None


# Told the user's turn id (None in a temporary chat) once it is stored and the message
# counted, before the answer is generated: a surface records it for a `Resume`.
Committed = Callable[[int | None], Awaitable[None]]


@dataclass
class Outcome:
    """How a reply ended, once stored."""

    text: str
    status: MessageStatus | None
    stop_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    user_message_id: int | None = None
    assistant_message_id: int | None = None
    error: str | None = None
    moderated: tuple[str, ...] = ()  # categories the answer fell under, when withheld
    sources: str = ""  # the server's documents the answer drew on, as the line to show

    @property
    def shown_text(self) -> str:
        """The answer as surfaces show it: nothing of a withheld one; a complete answer
        drawn from the server's documents ends with its sources."""
        if self.status == "moderated":
            return ""
        if self.sources and self.status == "complete" and self.text.strip():
            return f"{self.text.rstrip()}\n\n{self.sources}"
        return self.text

    @property
    def empty(self) -> bool:
        """True when the model produced no visible text."""
        return not self.text.strip()

    def note(self, locale: str = "en") -> str | None:
        """What every surface adds after the text: why it stopped short, if it did."""
        if self.status == "cancelled":
            return t("stopped", locale)
        if self.status == "moderated":
            return t("moderated", locale, categories=", ".join(self.moderated))
        if self.status == "failed":
            return t("empty_answer" if self.error == EMPTY_ANSWER else "failed", locale)
        return None


class Reply:
    """A reply in progress: iterate it for text deltas; await `outcome()` for the end.

    A refused request (empty message, busy queue, ...) has `refusal` set, yields nothing,
    and its outcome has no status.
    """

    def __init__(self, *, refusal: str | None = None, notices: Sequence[str] = (),
                 generation: Generation | None = None,
                 finisher: asyncio.Task[Outcome] | None = None,
                 user_message_id: int | None = None,
                 decision: TierDecision | None = None,
                 refusal_reason: str | None = None, preface: str | None = None,
                 temporary: bool = False, crisis: bool = False,
                 suggestion: asyncio.Task[Memory | None] | None = None,
                 sources: str = "") -> None:
        self.refusal = refusal
        self.sources = sources  # "Sources: ..." when the server's documents were used
        # Temporary chat: nothing of this turn is stored, and it never carries an ad.
        self.temporary = temporary
        # MEMORY_AUTO: resolves, after the answer, to the fact saved from it (or None);
        # surfaces show it with a way to undo it.
        self.suggestion = suggestion
        self.preface = preface  # shown before the answer (the crisis lines), not stored
        # A crisis answer: no surface shows or charges a sponsored block beside it.
        self.crisis = crisis
        self.refusal_reason = refusal_reason
        self.decision = decision
        self.notices = list(notices)
        self.user_message_id = user_message_id
        self._generation = generation
        self._finisher = finisher

    @property
    def generation(self) -> Generation | None:
        """The engine request behind this reply, if any."""
        return self._generation

    def __aiter__(self) -> Reply:
        return self

    async def __anext__(self) -> str:
        if self._generation is None:
            raise StopAsyncIteration
        return await self._generation.__anext__()

    def cancel(self) -> None:
        """Stop generating; the partial answer is stored as cancelled."""
        if self._generation is not None:
            self._generation.cancel()

    async def outcome(self) -> Outcome:
        """Wait until the answer has ended and been stored."""
        if self._finisher is None:
            return Outcome(text="", status=None, error=self.refusal,
                           user_message_id=self.user_message_id)
        outcome = await asyncio.shield(self._finisher)
        return replace(outcome, sources=self.sources) if self.sources else outcome

    async def text(self) -> str:
        """The whole answer (waits for the end)."""
        return (await self.outcome()).text
