"""`bench engine`'s own logic: each level's prompts are its own (no timing asserted)."""

from __future__ import annotations

from bench import engine as bench_engine
from bot.config import Settings
from bot.engine import ChatMessage


def test_levels_and_baselines_use_prompts_no_other_part_cached() -> None:
    heads: set[str] = set()
    for tag in ("engine ", "raw ", "reference ", "naive ", "warm-up ", ""):
        for level in (1, 2, 4, 8):
            for chat in bench_engine.level_chats(level, tag):
                head = chat[0].content.split(". ")[1]  # after the opening code
                assert head not in heads
                heads.add(head)


def test_no_two_prompts_share_a_prefix_the_engine_would_copy(settings: Settings) -> None:
    """In tokens, as the engine sees them: each level's prompts (every side's, and
    `bench peer`'s) share fewer first tokens than the engine's copy threshold."""
    from bench import peer
    from bot.engine.batched import BatchedLlamaEngine
    from bot.engine.llama import LlamaEngine
    from bot.engine.sequences import MIN_SHARED, common_prefix

    engine = BatchedLlamaEngine(settings)
    LlamaEngine._load(engine)  # the tokenizer only (no batched context): nothing decodes
    try:
        prompts = [engine.render(chat) for tag in ("engine ", "raw ", "reference ", "naive ",
                                                   "warm-up ", "")
                   for level in (1, 2, 4, 8) for chat in bench_engine.level_chats(level, tag)]
        prompts += [engine.render([ChatMessage(role, text) for role, text in messages])  # type: ignore[arg-type]
                    for run in range(3) for level in peer.LEVELS
                    for messages in peer.level_prompts(level, run)]
        longest = max(common_prefix(a, b) for n, a in enumerate(prompts)
                      for b in prompts[n + 1:])
        assert longest < MIN_SHARED
    finally:
        engine._unload()
