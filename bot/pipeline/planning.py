"""Prompt planning: what the model is sent for one turn, within the token budgets.

The system prompt (with the user's persona for tiers that unlock it, and the user's own
saved memories, newest first, within the tier's memory budget), then as much of
the conversation's history as the tier's budget allows, newest kept, then the message,
cut with a note when it alone is too long. Runs off the event loop: it tokenizes.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config import Settings
from bot.engine import ChatMessage, Engine
from bot.locales import t
from bot.pipeline.prompts import (
    KNOWLEDGE_LINE,
    KNOWLEDGE_TEMPLATE,
    MEMORY_LINE,
    MEMORY_TEMPLATE,
    PERSONA_TEMPLATE,
    TRUNCATION_MARKER,
)
from bot.store import StoredMessage

# History is dropped this many turns at a time when it no longer fits (whole exchanges).
HISTORY_TRIM_STEP = 6

# Turns that never reach the model again: unanswered, refused or withdrawn.
_SKIPPED = ("streaming", "failed", "refused", "moderated")


@dataclass
class PromptPlan:
    """The messages sent to the model and what the user should be told about them."""

    messages: list[ChatMessage]
    history_used: int
    notices: list[str] = field(default_factory=list)
    memories_used: int = 0
    knowledge_used: int = 0  # how many of the passages offered went in (best first)


def clean_text(text: str) -> str:
    """What the model reads of a message: control characters other than newlines and
    tabs removed (they carry no meaning and some tokenizers choke on NUL)."""
    return "".join(
        ch for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def with_persona(system_prompt: str, persona: str | None) -> str:
    """The system prompt with the user's persona appended, when they set one."""
    return PERSONA_TEMPLATE.format(system=system_prompt, persona=persona) if persona else (
        system_prompt)


def exchanges(history: Sequence[StoredMessage]) -> list[ChatMessage]:
    """The history as whole exchanges, a user turn then its answer, oldest first.

    A turn that failed, was refused or moderated, or is empty takes the other half of its
    exchange with it: most chat templates (Mistral, Gemma, Llama 2...) refuse two user
    turns in a row, and an answer without its question misleads the model anyway."""
    turns = [ChatMessage(turn.role, clean_text(turn.content))
             if turn.status not in _SKIPPED and clean_text(turn.content).strip() else None
             for turn in history]
    kept: list[ChatMessage] = []
    for question, answer in itertools.pairwise(turns):
        if (question is not None and answer is not None and question.role == "user"
                and answer.role == "assistant"):
            kept += [question, answer]
    return kept


class PromptPlanner:
    """Fits a turn's prompt into the context: history budget, truncation, template cost."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._overhead: int | None = None

    def message_overhead(self, system: ChatMessage) -> int:
        """Template tokens one message adds around its content."""
        if self._overhead is None:
            probe = ChatMessage("user", "hello")
            self._overhead = max(
                0,
                self.engine.prompt_tokens([system, probe]) - self.engine.prompt_tokens([system])
                - self.engine.count_tokens(probe.content),
            )
        return self._overhead

    def memory_lines(self, memories: Sequence[str], budget: int) -> list[str]:
        """The facts (newest first) that fit `budget` tokens, each quoted as a JSON
        string: a fact's quotes or newlines cannot break out of its line."""
        lines: list[str] = []
        used = 0
        for fact in memories:
            line = MEMORY_LINE.format(fact=json.dumps(fact, ensure_ascii=False))
            cost = self.engine.count_tokens(line + "\n")
            if used + cost > budget:
                break  # strictly newest first: an older fact never displaces a newer one
            lines.append(line)
            used += cost
        return lines

    def knowledge_lines(self, passages: Sequence[tuple[str, str]], budget: int) -> list[str]:
        """The (source, passage) pairs, best first, that fit `budget` tokens, each quoted
        as JSON strings; a first passage too long alone is cut to fit."""
        lines: list[str] = []
        used = 0
        for source, passage in passages:
            line = self._knowledge_line(len(lines) + 1, source, passage)
            cost = self.engine.count_tokens(line + "\n")
            if used + cost > budget and not lines:  # the best passage alone is too long
                room = budget - (cost - self.engine.count_tokens(passage)) - 16
                if room < 32:
                    break
                line = self._knowledge_line(1, source,
                                            self.engine.truncate(passage, room) + "…")
                cost = self.engine.count_tokens(line + "\n")
            if used + cost > budget:
                break  # a better passage is never displaced by a worse one
            lines.append(line)
            used += cost
        return lines

    @staticmethod
    def _knowledge_line(number: int, source: str, passage: str) -> str:
        return KNOWLEDGE_LINE.format(number=number,
                                     source=json.dumps(source, ensure_ascii=False),
                                     passage=json.dumps(passage, ensure_ascii=False))

    def plan(self, system_prompt: str, history: Sequence[StoredMessage],
                    text: str, locale: str = "en",
                    history_tokens: int | None = None, *, memories: Sequence[str] = (),
                    memory_tokens: int = 0, knowledge: Sequence[tuple[str, str]] = (),
                    knowledge_tokens: int = 0) -> PromptPlan:
        """System prompt (+ the user's memories), then as much history as fits (newest
        kept), then the message.

        `history_tokens` caps the history (the tier's context budget), `memory_tokens` the
        memories (the tier's memory budget); the whole prompt never exceeds the context
        left after the reply.
        """
        budget = self.settings.prompt_token_budget
        facts = self.memory_lines(memories, memory_tokens) if memories else []
        if facts:
            system_prompt = MEMORY_TEMPLATE.format(system=system_prompt, facts="\n".join(facts))
        found = self.knowledge_lines(knowledge, knowledge_tokens) if knowledge else []
        if found:
            system_prompt = KNOWLEDGE_TEMPLATE.format(system=system_prompt,
                                                      passages="\n".join(found))
        system = ChatMessage("system", system_prompt)
        current = ChatMessage("user", text)
        notices: list[str] = []
        used = self.engine.prompt_tokens([system, current])
        if used > budget:
            room = (budget - self.engine.prompt_tokens([system, ChatMessage("user", "")])
                    - self.engine.count_tokens(TRUNCATION_MARKER))
            kept = self.engine.truncate(text, max(0, room))
            current = ChatMessage("user", kept + TRUNCATION_MARKER)
            used = self.engine.prompt_tokens([system, current])
            notices.append(t("cut", locale, kept=len(kept), size=len(text)))
        overhead = self.message_overhead(system)
        history_budget = budget - used if history_tokens is None else min(
            budget - used, history_tokens)
        usable = exchanges(history)
        costs = [self.engine.count_tokens(m.content) + overhead for m in usable]
        # Start at a multiple of HISTORY_TRIM_STEP turns: the start then stays put for
        # several turns, so the prompt's prefix (and the KV the engine keeps for this
        # conversation) survives; dropping one turn per turn would change it every time.
        total, start = sum(costs), 0
        while start < len(usable) and total > history_budget:
            step = min(HISTORY_TRIM_STEP, len(usable) - start)
            total -= sum(costs[start:start + step])
            start += step
        chosen = usable[start:]
        messages = [system, *chosen, current]
        # Token counts of parts need not add up exactly; the whole prompt is the truth.
        # Whole exchanges go, so the roles still alternate.
        while len(messages) > 3 and self.engine.prompt_tokens(messages) > budget:
            del messages[1:3]
        return PromptPlan(messages=messages, history_used=len(messages) - 2, notices=notices,
                          memories_used=len(facts), knowledge_used=len(found))
