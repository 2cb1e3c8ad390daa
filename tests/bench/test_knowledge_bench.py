"""`python -m bench knowledge`: the question set's shape, and the target met on both
databases (the figures README quotes come from the same run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import knowledge

ROOT = Path(__file__).resolve().parents[2]


def test_question_set_is_large_with_a_fixed_held_out_fifth() -> None:
    asked = knowledge.questions()
    assert len(asked) >= 100
    held = [q for q in asked if q.held_out]
    assert len(held) == len(asked) // 5
    texts = {name: " ".join(path.read_text("utf-8").split())
             for name, path in knowledge.documents().items()}
    for question in asked:  # each phrase names exactly one place in its document
        assert texts[question.document].count(" ".join(question.phrase.split())) == 1, (
            question.phrase)


def test_bench_knowledge_json_meets_its_target_on_sqlite() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "knowledge", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(done.stdout)
    assert figures["questions"] >= 100
    assert figures["hit_rate_top3"] >= 0.8
    assert figures["hit_rate_top3_held_out"] >= 0.75
    assert figures["latency_ms_p50"] > 0


async def test_bench_knowledge_on_postgresql(postgres_url: str) -> None:
    figures = await knowledge.run(postgres_url)
    assert figures["database"] == "postgresql"
    assert figures["hit_rate_top3"] >= 0.8
