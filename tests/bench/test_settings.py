"""`bench settings`' own logic: what it compares and how (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import settings as bench_settings


def test_greedy_agreement_counts_leading_tokens_shared() -> None:
    assert bench_settings.agreement([[1, 2, 3], [4, 5], []], [[1, 2, 9], [4, 5, 6], [7]]) == [
        2, 2, 0]


def test_the_baseline_runs_first_and_last_and_each_variant_changes_one_thing() -> None:
    q4_0, q8_0 = Path("m.Q4_0.gguf"), Path("m.Q8_0.gguf")
    variants = bench_settings.variants(q4_0, q8_0)
    assert variants[0].name == "baseline" and variants[-1].name == "baseline again"
    for variant in variants[1:-1]:
        changed = [bool(variant.args), bool(variant.env), variant.model is not None,
                   variant.threads is not None]
        assert sum(changed) == 1, variant
    assert any(v.model == q4_0 for v in variants) and any(v.model == q8_0 for v in variants)


def test_the_table_shows_every_variant_and_the_quality() -> None:
    figures = {"model": "m", "threads": 2, "max_tokens": 8, "load_average": [0.1, 0.2, 0.3],
               "tps": {"baseline": {"1": 10.0, "2": 15.0, "4": 18.0, "8": 19.0},
                       "1 thread": {"1": 8.0}},
               "prefill_tps": {"baseline": {"1": 150.0, "8": 152.0}},
               "quality": {"perplexity": {"a": 10.0, "b": 11.0}, "text_tokens": 300,
                           "greedy_tokens_shared": {"b": [3, 64]}, "answer_tokens": [64, 64]}}
    text = bench_settings.table(figures)
    assert "baseline" in text and "1 thread" in text and "perplexity" in text
    assert "prompt tokens/s" in text and "150.0" in text
    assert "-" in text.splitlines()[3]  # a level a variant did not report
