"""The OpenAI-compatible backend: a streamed reply read straight from a real
llama_cpp.server with a plain HTTP client, and the same through Causette's pipeline
with LLM_BACKEND=openai, interleaved in one run.

Each run uses a fresh system prompt on both sides, so the server's prompt cache helps
neither and both first-token times include a real prefill.

Both sides count the same unit over the same interval: the tokens of the text received
(one tokenizer, the model's own) from the first piece of text to the last. Counting
stream events instead does not compare: the pipeline re-splits what it streams.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.pipeline import QUESTION, speed
from bot.config import load_settings
from bot.pipeline.runtime import open_runtime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tokens_in(text: str, tokenize: Any) -> int:
    """The tokens of a received text, with the model's tokenizer (the same on both sides)."""
    return len(tokenize(text.encode(), add_bos=False, special=False)) if text else 0


async def _direct(session: aiohttp.ClientSession, url: str, system: str,
                  max_tokens: int, tokenize: Any) -> tuple[float, float]:
    body = {"messages": [{"role": "system", "content": system},
                         {"role": "user", "content": QUESTION}],
            "stream": True, "max_tokens": max_tokens, "temperature": 0.0, "seed": 1}
    started = time.perf_counter()
    first = last = 0.0
    pieces = []
    async with session.post(f"{url}/chat/completions", json=body) as response:
        async for raw in response.content:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            delta = json.loads(line[5:])["choices"][0]["delta"]
            if delta.get("content"):
                last = time.perf_counter()
                first = first or last
                pieces.append(delta["content"])
    return (first - started) * 1000, speed(tokens_in("".join(pieces), tokenize), first, last)


async def _timed_pipeline(runtime: Any, system: str, max_tokens: int
                          ) -> tuple[float, float, int, str, float, float]:
    """pipeline_run, with the first and last text's times (the interval both sides use)."""
    from bot.pipeline.assistant import Inbound

    assistant = runtime.assistant
    await assistant.reset("local", "bench", "bench")
    start = time.perf_counter()
    reply = await assistant.handle(Inbound("local", "bench", "bench", QUESTION),
                                   system_prompt=system, max_tokens=max_tokens)
    first = last = 0.0
    pieces = []
    async for delta in reply:
        if str(delta):
            last = time.perf_counter()
            first = first or last
            pieces.append(str(delta))
    await reply.outcome()
    text = "".join(pieces)
    return (first - start) * 1000, 0.0, len(pieces), text, first, last


async def run(runs: int = 5, max_tokens: int = 128) -> dict[str, Any]:
    """Start a server, measure both sides, stop the server."""
    settings = load_settings()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "llama_cpp.server", "--model", str(settings.model_path),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(settings.n_ctx),
        "--n_threads", str(settings.threads), "--interrupt_requests", "False",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or server.returncode is not None:
                    raise RuntimeError("llama_cpp.server did not start") from None
                await asyncio.sleep(0.2)
        with tempfile.TemporaryDirectory(prefix="causette-backend-") as tmp:
            remote = load_settings(llm_backend="openai", llm_base_url=url, n_parallel=1,
                                   database_path=Path(tmp) / "b.db", temperature=0.0, seed=1,
                                   max_reply_tokens=max_tokens)
            direct: list[tuple[float, float]] = []
            bot: list[tuple[float, float]] = []
            from llama_cpp import Llama

            # Tokenizing only (vocab_only): this process never decodes.
            vocab = Llama(model_path=str(settings.model_path), vocab_only=True, verbose=False)
            async with aiohttp.ClientSession() as session, open_runtime(remote) as runtime:
                await _direct(session, url, "Warm-up.", 8, vocab.tokenize)
                for i in range(runs):
                    direct.append(await _direct(session, url, f"You are helpful. Run {i}d.",
                                                max_tokens, vocab.tokenize))
                    ttft, _, _, text, first, last = await _timed_pipeline(
                        runtime, f"You are helpful. Run {i}b.", max_tokens)
                    bot.append((ttft, speed(tokens_in(text, vocab.tokenize), first, last)))
    finally:
        server.terminate()
        await server.wait()

    def median(rows: list[tuple[float, float]], col: int) -> float:
        return round(statistics.median(r[col] for r in rows), 1)

    figures = {"runs": runs, "max_tokens": max_tokens,
               "direct_tps": median(direct, 1), "direct_ttft_ms": median(direct, 0),
               "bot_tps": median(bot, 1), "bot_ttft_ms": median(bot, 0)}
    figures["tps_ratio"] = round(figures["bot_tps"] / figures["direct_tps"], 3)
    figures["ttft_added_ms"] = round(figures["bot_ttft_ms"] - figures["direct_ttft_ms"], 1)
    return figures
