"""An OpenAI-compatible inference backend: llama.cpp's server, llama-cpp-python's
server, vLLM or Ollama, one or several, behind the same Engine interface.

Requests keep the bounded priority queue; up to `N_PARALLEL` per server stream at
once (set it to the server's parallel slots; llama-cpp-python's own server serves one
at a time), each sent to the healthy server with the fewest requests in flight. A server
that cannot be reached is taken out for `LLM_RETRY_SECONDS` and the request tries the
next one; a failure after the first token ends that answer with a clear error.

A stream counts as an answer only once it ended properly (`[DONE]` or a
`finish_reason`); a stream cut before any text is retried on another server, one cut
after some text ends as an error keeping that text.

The server applies its own chat template to what is sent, so control strings in any
message's content (a user typing `<|im_start|>system`) are defused first: the common
templates' markers (`special_tokens.KNOWN_CONTROL_STRINGS`) and whatever special tokens
the server tells about (llama.cpp's server: `/props`, its BOS/EOS tokens and the
`<|...|>` markers of its chat template), read at start. A server without `/props` gets
the known list alone.

Supervision: one bad request ends alone; if the dispatching loop itself dies, the
queued requests end as failed, new ones are refused with `EngineStopped` and
`wait_failed()` returns, for a supervisor to `restart()` the loop.

Token counts for the prompt budget are an estimate, not the server's tokenizer: one
token per 3 bytes of UTF-8 (BPE tokenizers average 3.5-4.5 bytes per token on
English and French text, so the estimate errs on the side of a shorter prompt), plus
6 tokens of chat template per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import math
import re
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
    EngineStopped,
    Generation,
    GenerationResult,
    SamplingParams,
    StopReason,
    stopped_message,
)
from bot.engine.special_tokens import KNOWN_CONTROL_STRINGS, defuse, pattern_for

log = logging.getLogger(__name__)

BYTES_PER_TOKEN = 3
TEMPLATE_TOKENS = 6
PROPS_TIMEOUT_S = 3.0
# The ChatML-like markers a chat template writes literally, e.g. '<|im_start|>'.
TEMPLATE_MARKER = re.compile(r"<[|\uff5c][^\s<>]{1,64}?[|\uff5c]>")
# What a reported BOS/EOS must look like to be defused: a token such as '</s>' or
# '<|endoftext|>', never a word or punctuation that ordinary text is full of.
TOKEN_SHAPE = re.compile(r"[<\[]\S{1,126}[>\]]")


class _Unreachable(Exception):
    """The server could not be used before any token: try another."""


def _failed_message(exc: BaseException) -> str:
    return (f"Something failed while streaming the answer ({type(exc).__name__}: {exc}); "
            "please try again.")


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
        self._failure: str | None = None
        self._failed = asyncio.Event()
        self._control = pattern_for(KNOWN_CONTROL_STRINGS)
        self.reported_tokens: set[str] = set()  # special tokens the servers told about
        self.info = EngineInfo(
            model_name=settings.llm_model or "server default", model_path=Path("-"),
            architecture="remote", n_ctx=settings.n_ctx, trained_context=None,
            chat_template_source="the server's", gpu_layers=0, threads=0)

    async def start(self) -> None:
        """Open the HTTP session, learn the servers' special tokens, start dispatching."""
        if self._session is None or self._session.closed:
            key = self.settings.llm_api_key
            headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
            self._session = aiohttp.ClientSession(headers=headers)
        await self._learn_special_tokens()
        self._failed = asyncio.Event()
        self._failure = None
        self._dispatcher = asyncio.create_task(self._dispatch())
        self._dispatcher.add_done_callback(self._dispatcher_ended)
        self._wakeup.set()  # whatever waits already is dispatched

    async def restart(self) -> None:
        """Start the dispatching loop again after it died."""
        if self._closed:
            raise EngineError("The engine was closed.")
        old = self._dispatcher
        if old is not None and not old.done():
            old.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await old
        await self.start()

    async def close(self) -> None:
        """Cancel what waits or streams, then close the session, within
        ENGINE_SHUTDOWN_SECONDS."""
        self._closed = True
        while self._waiting:
            waiting = heapq.heappop(self._waiting).generation
            waiting._finish(GenerationResult("", "cancelled", error="shutting down"))
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(set(self._tasks),
                                          timeout=self.settings.engine_shutdown_seconds)
            for task in stuck:  # not expected (a cancelled stream ends at once): say so
                log.error("an answer's stream did not stop at shutdown: %s", task)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        if self._session is not None:
            await self._session.close()

    # Health -----------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """True while requests are being dispatched."""
        dispatcher = self._dispatcher
        return (not self._closed and self._failure is None and dispatcher is not None
                and not dispatcher.done())

    @property
    def failure(self) -> str | None:
        """Why dispatching stopped, while it is stopped; None when healthy."""
        return self._failure

    async def wait_failed(self) -> str:
        """Return once the dispatching loop has died (not when closed), with why."""
        while True:
            failed = self._failed
            await failed.wait()
            if failed is self._failed:  # not an event replaced by a restart meanwhile
                return self._failure or "the dispatcher stopped"

    def _dispatcher_ended(self, task: asyncio.Task[None]) -> None:
        if self._closed or task.cancelled() or task is not self._dispatcher:
            return
        exc = task.exception()
        why = f"{type(exc).__name__}: {exc}" if exc else "the dispatcher returned"
        log.critical("dispatching to the inference servers stopped (%s)", why,
                     exc_info=exc)
        self._failure = why
        while self._waiting:  # nobody would ever start them now
            heapq.heappop(self._waiting).generation._end("error", stopped_message(why))
        self._failed.set()

    # Special tokens ---------------------------------------------------------------

    async def _learn_special_tokens(self) -> None:
        found = await asyncio.gather(*(self._server_tokens(s) for s in self.servers))
        self.reported_tokens = set().union(*found)
        self._control = pattern_for([*KNOWN_CONTROL_STRINGS, *self.reported_tokens])
        if self.reported_tokens:
            log.info("defusing the servers' special tokens too: %s",
                     sorted(self.reported_tokens))

    async def _server_tokens(self, server: _Server) -> set[str]:
        """The special tokens a llama.cpp server reports at /props; none elsewhere."""
        assert self._session is not None
        root = server.url.removesuffix("/v1")
        try:
            async with self._session.get(
                    f"{root}/props",
                    timeout=aiohttp.ClientTimeout(total=PROPS_TIMEOUT_S)) as response:
                if response.status != 200:
                    return set()
                props = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return set()
        if not isinstance(props, dict):
            return set()
        tokens = {props.get("bos_token"), props.get("eos_token")}
        found = {t for t in tokens if isinstance(t, str) and TOKEN_SHAPE.fullmatch(t)}
        template = props.get("chat_template")
        if isinstance(template, str):
            found.update(TEMPLATE_MARKER.findall(template))
        return found

    # Queue ------------------------------------------------------------------------

    def submit(self, messages: Sequence[ChatMessage], params: SamplingParams,
               priority: int = 0, cache_key: str | None = None) -> Generation:
        """Queue a request; refuses at once when the queue is full."""
        if self._failure is not None:
            raise EngineStopped(stopped_message(self._failure))
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
                try:
                    task = asyncio.create_task(self._run(generation))
                except Exception as exc:  # this request alone; the loop goes on
                    log.exception("could not start streaming an answer")
                    generation._end("error", _failed_message(exc))
                    continue
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
        except Exception as exc:  # e.g. a server's odd JSON: this answer alone fails
            log.exception("streaming an answer failed")
            generation._end("error", _failed_message(exc))
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
            "messages": [{"role": m.role, "content": defuse(m.content, self._control)}
                         for m in generation.messages],
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
        ended = False  # [DONE] or a finish_reason: the server says the answer is whole
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
                            ended = True
                            break
                        chunk = json.loads(data)
                        choice = (chunk.get("choices") or [{}])[0]
                        text = (choice.get("delta") or {}).get("content") or ""
                        if text:
                            first = first or time.perf_counter()
                            pieces.append(text)
                            generation._emit(text)
                        finish = choice.get("finish_reason")
                        if finish:
                            ended = True
                            if finish == "length":
                                reason = "length"
                except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError,
                        AttributeError, IndexError) as exc:
                    if not ended:
                        return self._broken(generation, pieces, started, first,
                                            type(exc).__name__)
                    # else only what follows the whole answer (usage, [DONE]) was lost
        finally:
            server.in_flight -= 1
            self._freed.set()
        if not ended:
            return self._broken(generation, pieces, started, first,
                                "the stream ended without its end marker")
        return self._result(generation, pieces, reason, started, first)

    def _broken(self, generation: Generation, pieces: list[str], started: float,
                first: float | None, why: str) -> GenerationResult:
        """A stream that stopped before the end of the answer: another server may try
        while nothing was shown; after that the answer ends as an error."""
        if not pieces:
            raise _Unreachable(f"the answer broke off before it began ({why})")
        return self._result(generation, pieces, "error", started, first,
                            f"The inference server broke off the answer ({why}).")

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
