"""`bench engine`'s own logic: each level's prompts are its own (no timing asserted)."""

from __future__ import annotations

from bench import engine as bench_engine


def test_levels_and_baselines_use_prompts_no_other_part_cached() -> None:
    heads: set[str] = set()
    for tag in ("engine ", "raw ", "reference ", "naive ", "warm-up ", ""):
        for level in (1, 2, 4, 8):
            for chat in bench_engine.level_chats(level, tag):
                head = chat[0].content.split(". ")[0]  # what differs comes first
                assert head not in heads
                heads.add(head)
