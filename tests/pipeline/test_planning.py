"""Prompt planning with a word-counting tokenizer: budgets, truncation, stable trims."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from bot.config import Settings
from bot.engine import ChatMessage
from bot.pipeline.planning import HISTORY_TRIM_STEP, PromptPlanner, with_persona
from bot.pipeline.prompts import TRUNCATION_MARKER
from bot.store import StoredMessage


class _CountingEngine:
    """A tokenizer stand-in: one token per word, four tokens of template a message."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(4 + len(m.content.split()) for m in messages) + 3

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


def test_plan_prompt_unit(settings: Settings) -> None:
    planner = PromptPlanner(settings.model_copy(update={"history_token_budget": 60}),
                            _CountingEngine())  # type: ignore[arg-type]
    history = [StoredMessage(i, 1, "user" if i % 2 == 0 else "assistant",
                             f"turn {i} " + "word " * 5, "complete", None, None, None, "")
               for i in range(10)]
    plan = planner.plan("sys", history, "now")
    assert _CountingEngine().prompt_tokens(plan.messages) <= 60
    assert plan.messages[-1].content == "now"
    assert plan.messages[-2].content.startswith("turn 9")
    cut = planner.plan("sys", [], "w " * 500)
    assert cut.messages[-1].content.endswith(TRUNCATION_MARKER)
    assert cut.notices and _CountingEngine().prompt_tokens(cut.messages) <= 60


def test_history_is_trimmed_in_steps_so_the_prefix_stays_stable(settings: Settings) -> None:
    planner = PromptPlanner(settings.model_copy(update={"history_token_budget": 120}),
                            _CountingEngine())  # type: ignore[arg-type]
    starts = []
    for n in range(10, 40):
        history = [StoredMessage(i, 1, "user" if i % 2 == 0 else "assistant",
                                 f"turn {i} " + "word " * 5, "complete", None, None, None, "")
                   for i in range(n)]
        plan = planner.plan("sys", history, "now")
        assert _CountingEngine().prompt_tokens(plan.messages) <= 120
        starts.append(plan.messages[1].content.split()[1])  # the first kept turn's number
    assert all(int(s) % HISTORY_TRIM_STEP == 0 for s in starts)
    changes = sum(a != b for a, b in itertools.pairwise(starts))
    assert changes <= len(starts) // 3  # the start moves in jumps, not every turn


def test_persona_is_added_to_the_system_prompt_only_when_set() -> None:
    assert with_persona("Be nice.", None) == "Be nice."
    combined = with_persona("Be nice.", "a pirate")
    assert combined.startswith("Be nice.") and "a pirate" in combined
