"""Raw llama-cpp-python streaming vs the whole Causette pipeline, same prompt and seed.

Both sides run in one process, interleaved run by run, so machine noise hits both.
Each run uses a fresh system prompt so neither side gets a warm prompt cache: time to
first token includes a real prefill on both. Tokens are counted as streamed chunks on
both sides, which is the same unit since both stream through `create_completion`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.assistant import Inbound
from bot.config import load_settings
from bot.runtime import open_runtime

SYSTEM = "You are a helpful assistant. Benchmark run {run}."
QUESTION = "Write a detailed story about a lighthouse keeper and a storm."
SEED = 1234


def speed(tokens: int, first: float, last: float) -> float:
    return (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0


def _raw_run(llm: Any, run: int, max_tokens: int) -> tuple[float, float, int]:
    messages = [{"role": "system", "content": SYSTEM.format(run=run)},
                {"role": "user", "content": QUESTION}]
    start = time.perf_counter()
    first = last = 0.0
    tokens = 0
    for chunk in llm.create_chat_completion(messages, stream=True, temperature=0.0,
                                            seed=SEED, max_tokens=max_tokens):
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            first = first or last
            tokens += 1
    return (first - start) * 1000, speed(tokens, first, last), tokens


async def pipeline_run(runtime: Any, system: str, max_tokens: int
                       ) -> tuple[float, float, int, str]:
    """One answer through the whole pipeline: (first token ms, tokens/s, deltas, text)."""
    assistant = runtime.assistant
    await assistant.reset("local", "bench", "bench")
    start = time.perf_counter()
    reply = await assistant.handle(Inbound("local", "bench", "bench", QUESTION),
                                   system_prompt=system, max_tokens=max_tokens)
    first = last = 0.0
    tokens = 0
    pieces = []
    async for delta in reply:
        last = time.perf_counter()
        first = first or last
        tokens += 1
        pieces.append(str(delta))
    await reply.outcome()
    return (first - start) * 1000, speed(tokens, first, last), tokens, "".join(pieces)


async def run(runs: int = 5, max_tokens: int = 128) -> dict[str, Any]:
    """Measure both sides; return the figures as a dict."""
    from llama_cpp import Llama

    with tempfile.TemporaryDirectory(prefix="causette-bench-") as tmp:
        settings = load_settings(database_path=Path(tmp) / "bench.db", temperature=0.0,
                                 seed=SEED, max_reply_tokens=max_tokens)
        llm = Llama(model_path=str(settings.model_path), n_ctx=settings.n_ctx,
                    n_threads=settings.threads, n_threads_batch=settings.threads,
                    n_batch=settings.n_batch, n_gpu_layers=settings.n_gpu_layers,
                    verbose=False)
        raw: list[tuple[float, float, int]] = []
        pipe: list[tuple[float, float, int, str]] = []
        async with open_runtime(settings) as runtime:
            _raw_run(llm, -1, 8)  # warm-up: page the weights in for both
            await pipeline_run(runtime, SYSTEM.format(run=-1), 8)
            for i in range(runs):
                raw.append(_raw_run(llm, i, max_tokens))
                pipe.append(await pipeline_run(runtime, SYSTEM.format(run=i), max_tokens))
        llm.close()

    def median(rows: list[tuple[Any, ...]], col: int) -> float:
        return statistics.median(r[col] for r in rows)

    raw_tps, pipe_tps = median(raw, 1), median(pipe, 1)
    raw_ttft, pipe_ttft = median(raw, 0), median(pipe, 0)
    return {
        "model": settings.model_path.name,
        "threads": settings.threads,
        "runs": runs,
        "max_tokens": max_tokens,
        "tokens_per_answer": [r[2] for r in pipe],
        "raw_tps": round(raw_tps, 1),
        "pipeline_tps": round(pipe_tps, 1),
        "tps_ratio": round(pipe_tps / raw_tps, 3) if raw_tps else None,
        "raw_ttft_ms": round(raw_ttft, 1),
        "pipeline_ttft_ms": round(pipe_ttft, 1),
        "ttft_added_ms": round(pipe_ttft - raw_ttft, 1),
    }


def table(figures: dict[str, Any]) -> str:
    """The figures as a small text table."""
    return "\n".join([
        f"model {figures['model']}, {figures['threads']} threads, "
        f"{figures['runs']} runs x {figures['max_tokens']} tokens (medians)",
        f"{'':22}{'tokens/s':>10}{'first token ms':>16}",
        f"{'raw llama-cpp-python':22}{figures['raw_tps']:>10}{figures['raw_ttft_ms']:>16}",
        f"{'causette pipeline':22}{figures['pipeline_tps']:>10}"
        f"{figures['pipeline_ttft_ms']:>16}",
        f"ratio {figures['tps_ratio']}, first token +{figures['ttft_added_ms']} ms",
    ])
