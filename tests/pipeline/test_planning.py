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


def _turn(i: int, role: str, content: str, status: str = "complete") -> StoredMessage:
    return StoredMessage(i, 1, role, content, status, None, None, None, "")  # type: ignore[arg-type]


def _alternates(messages: Sequence[ChatMessage]) -> bool:
    roles = [m.role for m in messages[1:]]
    return roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]


def test_dropped_turns_take_their_whole_exchange_with_them(settings: Settings) -> None:
    planner = PromptPlanner(settings, _CountingEngine())  # type: ignore[arg-type]
    history = [_turn(0, "user", "q0"), _turn(1, "assistant", "a0"),
               _turn(2, "user", "q1 moderated"), _turn(3, "assistant", "a1", "moderated"),
               _turn(4, "user", "q2 refused", "refused"), _turn(5, "assistant", "a2"),
               _turn(6, "user", "q3 failed"), _turn(7, "assistant", "", "failed"),
               _turn(8, "user", "q4 empty"), _turn(9, "assistant", " \n\x00"),
               _turn(10, "user", "q5 unanswered"),
               _turn(11, "user", "q6"), _turn(12, "assistant", "a6"),
               _turn(13, "assistant", "a7 orphan"), _turn(14, "user", "q8 streaming"),
               _turn(15, "assistant", "a8", "streaming")]
    plan = planner.plan("sys", history, "now")
    assert [m.content for m in plan.messages] == ["sys", "q0", "a0", "q6", "a6", "now"]
    assert _alternates(plan.messages) and plan.history_used == 4


class _GrowingEngine(_CountingEngine):
    """Template cost that grows with the conversation, as no per-message estimate
    foresees: the planner's last pass (dropping turns until the whole prompt fits) runs."""

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return super().prompt_tokens(messages) + len(messages) ** 2 // 3


def test_a_history_trimmed_to_fit_still_alternates(settings: Settings) -> None:
    engine = _GrowingEngine()
    trimmed_by_the_last_pass = 0
    for budget in range(30, 200, 7):
        planner = PromptPlanner(settings.model_copy(update={"history_token_budget": budget}),
                                engine)  # type: ignore[arg-type]
        history = [_turn(i, "user" if i % 3 else "assistant", f"turn {i} " + "w " * (i % 5))
                   for i in range(60)]
        plan = planner.plan("sys", history, "now")
        assert _alternates(plan.messages), budget
        assert engine.prompt_tokens(plan.messages) <= budget, budget
        with_one_more = planner.plan("sys", history[:-3], "now")
        trimmed_by_the_last_pass += plan.history_used % HISTORY_TRIM_STEP != 0
        assert _alternates(with_one_more.messages), budget
    assert trimmed_by_the_last_pass  # the pairwise drop at the end was exercised
