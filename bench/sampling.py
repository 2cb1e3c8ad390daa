"""`python -m bench sampling`: what picking each token costs, and what it does to speed.

1. The engine at the default temperature (0.7, top-p 0.95), `TOP_K=40` (the default)
   beside `TOP_K=0` (top-p alone, as the engine sampled before TOP_K existed): decode
   tokens/s per conversation, 1 and 4 at once, exactly `max_tokens` each, runs
   alternating which goes first. Each prompt opens with its own code, so no KV is shared.
2. Then, once the engine is closed (one thread decodes at a time), the cost of one
   sample on the real logits of the default model: llama.cpp's greedy chain beside the
   engine's greedy `Sampler` (an argmax over the logits in place), and llama.cpp's top-p
   chain without and with top-k 40 before it. Median of `SAMPLES` calls each.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.questions import QUESTIONS, opener
from bot.config import load_settings
from bot.engine import ChatMessage, SamplingParams
from bot.engine.batched import BatchedLlamaEngine
from bot.engine.sampling import Sampler

TOP_KS = (40, 0)
LEVELS = (1, 4)
SAMPLES = 200


async def _speeds(runs: int, max_tokens: int) -> dict[str, dict[str, list[float]]]:
    """Decode tokens/s per conversation, by top-k and level, one figure per run."""
    engine = BatchedLlamaEngine(load_settings(n_parallel=max(LEVELS)))
    engine.ignore_eos = True
    await engine.start()
    speeds: dict[str, dict[str, list[float]]] = {
        str(k): {str(n): [] for n in LEVELS} for k in TOP_KS}
    try:
        for run in range(runs):
            for k in TOP_KS if run % 2 == 0 else TOP_KS[::-1]:
                for n in LEVELS:
                    params = [SamplingParams(max_tokens=max_tokens, temperature=0.7,
                                             top_p=0.95, top_k=k, seed=run * 100 + i)
                              for i in range(n)]
                    generations = [engine.submit([
                        ChatMessage("system", f"{opener('sampling', run, k, n, i)}. "
                                              "You are a helpful assistant."),
                        ChatMessage("user", QUESTIONS[i % len(QUESTIONS)])], params[i])
                        for i in range(n)]
                    results = [await g.result() for g in generations]
                    assert all(r.completion_tokens == max_tokens for r in results), results
                    speeds[str(k)][str(n)].append(statistics.mean(
                        r.tokens_per_second or 0.0 for r in results))
    finally:
        await engine.close()
    return speeds


def _per_sample_us() -> dict[str, float]:
    """One sample's cost in microseconds, on the logits of a decoded prompt."""
    import llama_cpp

    settings = load_settings()
    model = llama_cpp.llama_model_load_from_file(str(settings.model_path).encode(),
                                                 llama_cpp.llama_model_default_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_threads, params.n_threads_batch = 256, settings.threads, \
        settings.threads
    ctx = llama_cpp.llama_init_from_model(model, params)
    vocab = llama_cpp.llama_model_get_vocab(model)
    text = QUESTIONS[0].encode()
    tokens = (llama_cpp.llama_token * 64)()
    n = llama_cpp.llama_tokenize(vocab, text, len(text), tokens, 64, False, False)
    batch = llama_cpp.llama_batch_get_one(tokens, n)
    try:
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)

        def chain(*samplers: Any) -> Callable[[], int]:
            c = llama_cpp.llama_sampler_chain_init(
                llama_cpp.llama_sampler_chain_default_params())
            for s in samplers:
                llama_cpp.llama_sampler_chain_add(c, s)
            return lambda: int(llama_cpp.llama_sampler_sample(c, ctx, -1))

        greedy = Sampler(SamplingParams(temperature=0.0), n_vocab)
        default = Sampler(SamplingParams(temperature=0.7, top_p=0.95, top_k=40, seed=1),
                          n_vocab)
        ways: dict[str, Callable[[], int]] = {
            "llama_cpp_greedy": chain(llama_cpp.llama_sampler_init_greedy()),
            "engine_greedy": lambda: greedy.sample(ctx, n - 1),
            "llama_cpp_top_p": chain(llama_cpp.llama_sampler_init_top_p(0.95, 1),
                                     llama_cpp.llama_sampler_init_temp(0.7),
                                     llama_cpp.llama_sampler_init_dist(1)),
            "engine_top_k_40_top_p": lambda: default.sample(ctx, n - 1),
        }
        costs = {}
        for name, sample in ways.items():
            times = []
            for _ in range(SAMPLES):
                started = time.perf_counter()
                sample()
                times.append(time.perf_counter() - started)
            costs[name] = round(statistics.median(times) * 1e6, 1)
        greedy.free()
        default.free()
        return costs
    finally:
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)


def run(runs: int = 3, max_tokens: int = 128) -> dict[str, Any]:
    """Both parts; the figures as a dict."""
    speeds = asyncio.run(_speeds(runs, max_tokens))
    median = {k: {n: round(statistics.median(v), 1) for n, v in by_n.items()}
              for k, by_n in speeds.items()}
    return {
        "runs": runs,
        "max_tokens": max_tokens,
        "tps_per_conversation": median,  # top-k -> conversations at once -> tokens/s
        "top_k_40_vs_0": {n: round(median["40"][n] / median["0"][n], 3)
                          for n in median["40"]},
        "sample_us": _per_sample_us(),
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as text."""
    lines = [f"temperature 0.7, top-p 0.95, {figures['max_tokens']} tokens, "
             f"median of {figures['runs']} runs: decode tokens/s per conversation"]
    for n in figures["top_k_40_vs_0"]:
        lines.append(f"  {n} at once: TOP_K=40 {figures['tps_per_conversation']['40'][n]}, "
                     f"TOP_K=0 {figures['tps_per_conversation']['0'][n]}, "
                     f"ratio {figures['top_k_40_vs_0'][n]}")
    lines.append("one sample (us, median):")
    lines += [f"  {name:<24}{us:>10}" for name, us in figures["sample_us"].items()]
    return "\n".join(lines)
