"""The benchmark keeps running and reports its keys (figures are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def bench_json(name: str) -> dict[str, Any]:
    """`python -m bench NAME --json`, one short run, as its one JSON object."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--json", "--runs", "1", "--tokens", "8"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_pipeline_bench_prints_one_json_object() -> None:
    figures = bench_json("pipeline")
    for key in ("engine_tps", "pipeline_tps", "engine_ttft_ms", "pipeline_ttft_ms"):
        assert figures[key] > 0
    # Both sides decode the same number of tokens from prompts of the same length.
    assert figures["engine_tokens"] == figures["pipeline_tokens"] == [8]
    assert figures["engine_prompt_tokens"] == figures["pipeline_prompt_tokens"]
    # Neither side finds more of its prompt cached than the other.
    assert figures["engine_cached_tokens"] == figures["pipeline_cached_tokens"]
    # One run: the median of the runs' differences is that run's difference.
    assert figures["ttft_added_paired_ms"] == figures["ttft_added_ms"]


def test_backend_bench_prints_its_keys() -> None:
    figures = bench_json("backend")
    for key in ("direct_tps", "direct_ttft_ms", "bot_tps", "bot_ttft_ms"):
        assert figures[key] > 0


def test_sampling_bench_prints_its_keys() -> None:
    figures = bench_json("sampling")
    assert set(figures["tps_per_conversation"]) == {"40", "0"}
    assert all(v > 0 for by_n in figures["tps_per_conversation"].values()
               for v in by_n.values())
    assert set(figures["top_k_40_vs_0"]) == {"1", "4"}
    assert set(figures["sample_us"]) == {"llama_cpp_greedy", "engine_greedy",
                                         "llama_cpp_top_p", "engine_top_k_40_top_p"}
