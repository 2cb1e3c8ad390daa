"""An OpenAI-compatible inference backend: llama.cpp's server, llama-cpp-python's
server, vLLM or Ollama, one or several, behind the same Engine interface.

Requests keep the bounded priority queue; up to `N_PARALLEL` per server stream at
once (set it to the server's parallel slots; llama-cpp-python's own server serves one
at a time), each sent to the healthy server with the fewest requests in flight. A server
that cannot be reached is taken out for `LLM_RETRY_SECONDS` and the request tries the
next one; a failure after the first token ends that answer with a clear error.

Token counts for the prompt budget are an estimate, not the server's tokenizer: one
token per 3 bytes of UTF-8 (BPE tokenizers average 3.5-4.5 bytes per token on
English and French text, so the estimate errs on the side of a shorter prompt), plus
6 tokens of chat template per message.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Settings
from bot.engine.protocol import (
    ChatMessage,
    EngineBusy,
    EngineError,
    EngineInfo,
    Generation,
    GenerationResult,
    SamplingParams,
    StopReason,
)

log = logging.getLogger(__name__)

BYTES_PER_TOKEN = 3
TEMPLATE_TOKENS = 6


class _Unreachable(Exception):
    """The server could not be used before any token: try another."""


@dataclass
class _Server:
    url: str
    in_flight: int = 0
    down_until: float = 0.0


@dataclass(order=True)
class _Waiting:
    rank: tuple[int, int]
    generation: Generation = field(compare=False)


class OpenAIEngine:
    """Streams chat completions from OpenAI-compatible servers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.servers = [_Server(url.strip().rstrip("/")) for url in
                        settings.llm_base_url.split(",") if url.strip()]
        if not self.servers:
            raise EngineError("LLM_BASE_URL names no server.")
        self._waiting: list[_Waiting] = []
        self._order = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._wakeup = asyncio.Event()
        self._freed = asyncio.Event()  # a stream ended: a server has room again
        self._dispatcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._speeds: list[float] = []
        self._closed = False
        self.info = EngineInfo(
            model_name=settings.llm_model or "server default", model_path=Path("-"),
            architecture="remote", n_ctx=settings.n_ctx, trained_context=None,
            chat_template_source="the server's", gpu_layers=0, threads=0)

    async def start(self) -> None:
        """Open the HTTP session and start dispatching."""
        key = self.settings.llm_api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        self._session = aiohttp.ClientSession(headers=headers)
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def close(self) -> None:
        """Cancel what waits or streams, then close the session."""
        self._closed = True
        while self._waiting:
            waiting = heapq.heappop(self._waiting).generation
            waiting._finish(GenerationResult("", "cancelled", error="shutting down"))
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        if self._session is not None:
            await self._session.close()

    # Queue ------------------------------------------------------------------------

    def submit(self, messages: Sequence[ChatMessage], params: SamplingParams,
               priority: int = 0, cache_key: str | None = None) -> Generation:
        """Queue a request; refuses at once when the queue is full."""
        if self._closed or self._session is None:
            raise EngineError("The model server is not connected; try again in a moment.")
        if len(self._waiting) >= self.settings.queue_max:
            raise EngineBusy("busy")
        generation = Generation(asyncio.get_running_loop(), messages, params, priority,
                                cache_key)
        heapq.heappush(self._waiting, _Waiting((-priority, next(self._order)), generation))
        self._wakeup.set()
        return generation

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a free stream."""
        return len(self._waiting)

    def queue_position(self, generation: Generation) -> int:
        """1 for the next in line, 0 when streaming or done."""
        for position, waiting in enumerate(sorted(self._waiting), start=1):
            if waiting.generation is generation:
                return position
        return 0

    @property
    def tokens_per_second(self) -> float | None:
        """Recent speed as the bot sees it."""
        recent = self._speeds[-20:]
        return sum(recent) / len(recent) if recent else None

    def _capacity(self) -> int:
        return self.settings.n_parallel * len(self.servers)

    async def _dispatch(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._waiting and len(self._tasks) < self._capacity():
                generation = heapq.heappop(self._waiting).generation
                task = asyncio.create_task(self._run(generation))
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wakeup.set()

    # Streaming --------------------------------------------------------------------

    async def _pick(self, tried: set[str]) -> _Server | None:
        """The least busy healthy server not tried yet, waiting while all are full."""
        while True:
            now = time.monotonic()
            healthy = [s for s in self.servers if s.url not in tried and s.down_until <= now]
            if not healthy:  # all marked down: try the one that went down first
                healthy = sorted((s for s in self.servers if s.url not in tried),
                                 key=lambda s: s.down_until)[:1]
            if not healthy:
                return None
            best = min(healthy, key=lambda s: s.in_flight)
            if best.in_flight < self.settings.n_parallel:
                return best
            self._freed.clear()
            await self._freed.wait()

    async def _run(self, generation: Generation) -> None:
        started = time.perf_counter()
        if generation.cancelled:
            generation._finish(GenerationResult("", "cancelled"))
            return
        watcher = asyncio.create_task(self._watch(generation, asyncio.current_task()))
        tried: set[str] = set()
        last_error = "no server"
        try:
            while (server := await self._pick(tried)) is not None:
                tried.add(server.url)
                try:
                    result = await self._stream(server, generation, started)
                except _Unreachable as exc:
                    server.down_until = time.monotonic() + self.settings.llm_retry_seconds
                    last_error = str(exc)
                    log.warning("inference server %s unavailable: %s", server.url, exc)
                    continue
                generation._finish(result)
                return
            generation._finish(GenerationResult(
                "", "error", error=f"No inference server could answer ({last_error})."))
        except asyncio.CancelledError:
            generation._finish(GenerationResult("", "cancelled"))
        finally:
            watcher.cancel()

    async def _watch(self, generation: Generation, task: asyncio.Task[Any] | None) -> None:
        """Cancel the stream promptly when the caller cancels, even between tokens."""
        await generation.wait_cancelled()
        if task is not None:
            task.cancel()

    async def _stream(self, server: _Server, generation: Generation,
                      started: float) -> GenerationResult:
        assert self._session is not None
        params = generation.params
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in generation.messages],
            "stream": True, "max_tokens": params.max_tokens, "temperature": params.temperature,
            "top_p": params.top_p}
        if self.settings.llm_model:
            body["model"] = self.settings.llm_model
        if params.seed >= 0:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        pieces: list[str] = []
        first: float | None = None
        reason: StopReason = "stop"
        server.in_flight += 1
        try:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=5,
                                            sock_read=self.settings.llm_read_timeout)
            try:
                response = await self._session.post(f"{server.url}/chat/completions",
                                                     json=body, timeout=timeout)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _Unreachable(type(exc).__name__) from None
            async with response:
                if response.status >= 500 or response.status == 429:
                    raise _Unreachable(f"HTTP {response.status}")
                if response.status >= 400:
                    detail = (await response.text())[:200]
                    return GenerationResult("", "error", error=(
                        f"The inference server refused the request (HTTP {response.status}: "
                        f"{detail})."))
                try:
                    async for raw in response.content:
                        line = raw.decode("utf-8", "replace").strip()
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            break
                        chunk = json.loads(data)
                        choice = (chunk.get("choices") or [{}])[0]
                        text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            first = first or time.perf_counter()
                            pieces.append(text)
                            generation._emit(text)
                        if choice.get("finish_reason") == "length":
                            reason = "length"
                except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError,
                        AttributeError, IndexError) as exc:
                    if not pieces:
                        raise _Unreachable(type(exc).__name__) from None
                    return self._result(generation, pieces, "error", started, first,
                                        f"The inference server broke off the answer "
                                        f"({type(exc).__name__}).")
        finally:
            server.in_flight -= 1
            self._freed.set()
        return self._result(generation, pieces, reason, started, first)

    def _result(self, generation: Generation, pieces: list[str], reason: StopReason,
                started: float, first: float | None, error: str | None = None
                ) -> GenerationResult:
        text = "".join(pieces)
        result = GenerationResult(
            text, reason, prompt_tokens=self.prompt_tokens(generation.messages),
            completion_tokens=len(pieces), error=error,
            queued_s=started - generation.submitted,
            first_token_s=None if first is None else first - started,
            decode_s=0.0 if first is None else time.perf_counter() - first)
        if result.tokens_per_second:
            self._speeds.append(result.tokens_per_second)
        return result

    # Token estimates (documented in the module docstring) ---------------------------

    def count_tokens(self, text: str) -> int:
        """Estimated tokens of a text."""
        return math.ceil(len(text.encode("utf-8", "replace")) / BYTES_PER_TOKEN)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Estimated tokens of a chat prompt."""
        return sum(self.count_tokens(m.content) + TEMPLATE_TOKENS for m in messages) + 3

    def truncate(self, text: str, max_tokens: int) -> str:
        """A prefix of `text` within the estimate."""
        data = text.encode("utf-8", "replace")[: max(0, max_tokens) * BYTES_PER_TOKEN]
        return data.decode("utf-8", "ignore")
