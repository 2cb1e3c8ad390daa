"""The whole Causette pipeline vs the same engine called directly, same prompts.

One process, one engine: the pipeline side goes through `Assistant.handle` (the user's
turn stored in SQLite, the prompt planned, the engine's queue, the answer stored as it
streams); the direct side submits the very messages the planner built to that engine
and reads its deltas. So the engine's worker is the only thread that decodes, and what
the ratio measures is what the bot adds around the engine.

Each run gives each side a prompt of its own that differs from its first word on (a
code made from the run and the side opens the system prompt), so neither reuses KV the
other or an earlier run left: both prefill the same number of tokens, and the bench
prints how many each found cached (the chat template's opening, on both sides). Both
decode exactly `max_tokens` tokens (end-of-generation tokens are never sampled, as
llama-server's `ignore_eos`),
counted from the engine's result, and both are timed the same way: from the call that
submits to the first and last piece of text the caller receives. Runs alternate which
side goes first, so machine drift hits both.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.questions import opener
from bot.config import load_settings
from bot.engine import ChatMessage, SamplingParams
from bot.engine.batched import BatchedLlamaEngine
from bot.engine.sequences import common_prefix
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import Runtime, open_runtime

SYSTEM = "{code}. You are a helpful assistant."
QUESTION = "Write a detailed story about a lighthouse keeper and a storm."
SEED = 1234


@dataclass(frozen=True)
class Sample:
    """One answer as its caller saw it."""

    ttft_ms: float
    tps: float
    tokens: int
    prompt_tokens: int
    cached_tokens: int


def speed(tokens: int, first: float, last: float) -> float:
    """Tokens per second after the first one (the first token's wait is its own figure)."""
    return (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0


async def first_and_last(stream: AsyncIterator[object]) -> tuple[float, float]:
    """When the first and the last piece of text came, reading `stream` to its end."""
    first = last = 0.0
    async for _ in stream:
        last = time.perf_counter()
        first = first or last
    return first, last


class SystemPrompts:
    """Each run's two system prompts: as many tokens each, and each opening with a token
    that no earlier prompt of the bench opened with, so neither side keeps KV that the
    other or an earlier run left (beyond the chat template's own opening)."""

    def __init__(self, render: Callable[[str], list[int]]) -> None:
        self._render = render  # a system prompt as the model's tokens, template included
        self._template = common_prefix(render("alpha"), render("zebra"))
        self._openings: set[int] = set()

    def pair(self, run: int) -> tuple[str, str]:
        """(direct, pipeline) for `run`."""
        n = self._template
        for salt in range(10_000):
            direct, pipe = (SYSTEM.format(code=opener("pipeline", run, side, salt))
                            for side in "dp")
            a, b = self._render(direct), self._render(pipe)
            if (len(a) == len(b) and common_prefix(a, b) == n
                    and not {a[n], b[n]} & self._openings):
                self._openings |= {a[n], b[n]}
                return direct, pipe
        raise RuntimeError("no pair of system prompts of equal length was found")


async def direct_run(runtime: Runtime, system: str, key: str, max_tokens: int) -> Sample:
    """The engine alone, given the messages the planner builds for the pipeline."""
    settings = runtime.settings
    plan = runtime.assistant.planner.plan(system, [], QUESTION)
    params = SamplingParams(max_tokens=max_tokens, temperature=settings.temperature,
                            top_p=settings.top_p, seed=settings.seed)
    start = time.perf_counter()
    # A key of its own, like the pipeline's conversation: the engine then chooses its
    # sequence by the same rule for both sides (without one it could not take a
    # sequence a conversation holds, so it found less of its prompt cached).
    generation = runtime.engine.submit(plan.messages, params, cache_key=key)
    first, last = await first_and_last(generation)
    result = await generation.result()
    return Sample((first - start) * 1000, speed(result.completion_tokens, first, last),
                  result.completion_tokens, result.prompt_tokens, result.cached_tokens)


async def pipeline_run(runtime: Runtime, system: str, max_tokens: int) -> Sample:
    """One answer through the whole pipeline, a new conversation each time."""
    assistant = runtime.assistant
    await assistant.reset("local", "bench", "bench")
    start = time.perf_counter()
    reply = await assistant.handle(Inbound("local", "bench", "bench", QUESTION),
                                   system_prompt=system,
                                   max_tokens=max_tokens)
    first, last = await first_and_last(reply)
    outcome = await reply.outcome()
    assert reply.generation is not None, reply.refusal
    cached = (await reply.generation.result()).cached_tokens
    return Sample((first - start) * 1000, speed(outcome.completion_tokens, first, last),
                  outcome.completion_tokens, outcome.prompt_tokens, cached)


async def run(runs: int = 5, max_tokens: int = 128) -> dict[str, Any]:
    """Measure both sides; return the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="causette-bench-") as tmp:
        settings = load_settings(database_path=Path(tmp) / "bench.db", temperature=0.0,
                                 seed=SEED, max_reply_tokens=max_tokens)
        engine = BatchedLlamaEngine(settings)
        engine.ignore_eos = True
        direct: list[Sample] = []
        pipe: list[Sample] = []
        async with open_runtime(settings, engine) as runtime:
            prompts = SystemPrompts(
                lambda text: engine.render([ChatMessage("system", text)]))
            warm = prompts.pair(-1)  # warm-up: page the weights in for both
            await direct_run(runtime, warm[0], "bench:direct:-1", 8)
            await pipeline_run(runtime, warm[1], 8)
            for i in range(runs):
                system_direct, system_pipe = prompts.pair(i)
                measure_direct = direct_run(runtime, system_direct, f"bench:direct:{i}",
                                            max_tokens)
                measure_pipe = pipeline_run(runtime, system_pipe, max_tokens)
                if i % 2:
                    pipe.append(await measure_pipe)
                    direct.append(await measure_direct)
                else:
                    direct.append(await measure_direct)
                    pipe.append(await measure_pipe)

    def median(samples: list[Sample], field: str) -> float:
        return float(statistics.median(getattr(s, field) for s in samples))

    direct_tps, pipe_tps = median(direct, "tps"), median(pipe, "tps")
    direct_ttft, pipe_ttft = median(direct, "ttft_ms"), median(pipe, "ttft_ms")
    return {
        "model": settings.model_path.name,
        "threads": settings.threads,
        "runs": runs,
        "max_tokens": max_tokens,
        "engine_tokens": [s.tokens for s in direct],
        "pipeline_tokens": [s.tokens for s in pipe],
        "engine_prompt_tokens": [s.prompt_tokens for s in direct],
        "pipeline_prompt_tokens": [s.prompt_tokens for s in pipe],
        "engine_cached_tokens": [s.cached_tokens for s in direct],
        "pipeline_cached_tokens": [s.cached_tokens for s in pipe],
        "engine_tps": round(direct_tps, 1),
        "pipeline_tps": round(pipe_tps, 1),
        "tps_ratio": round(pipe_tps / direct_tps, 3) if direct_tps else None,
        "engine_ttft_ms": round(direct_ttft, 1),
        "pipeline_ttft_ms": round(pipe_ttft, 1),
        "ttft_added_ms": round(pipe_ttft - direct_ttft, 1),
        # Each run's two sides ran back to back: their difference is free of the drift
        # between runs, which moves either side's median by a few ms.
        "ttft_added_paired_ms": round(statistics.median(
            p.ttft_ms - d.ttft_ms for p, d in zip(pipe, direct, strict=True)), 1),
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a small text table."""
    return "\n".join([
        f"model {figures['model']}, {figures['threads']} threads, "
        f"{figures['runs']} runs x {figures['max_tokens']} tokens (medians)",
        f"{'':22}{'tokens/s':>10}{'first token ms':>16}",
        f"{'engine, called direct':22}{figures['engine_tps']:>10}"
        f"{figures['engine_ttft_ms']:>16}",
        f"{'causette pipeline':22}{figures['pipeline_tps']:>10}"
        f"{figures['pipeline_ttft_ms']:>16}",
        f"pipeline/engine {figures['tps_ratio']}, first token {figures['ttft_added_ms']:+} ms"
        f" (median of each run's difference {figures['ttft_added_paired_ms']:+} ms)",
        f"tokens per answer: engine {figures['engine_tokens']}, "
        f"pipeline {figures['pipeline_tokens']}",
        f"prompt tokens found cached: engine {figures['engine_cached_tokens']}, "
        f"pipeline {figures['pipeline_cached_tokens']}",
    ])
