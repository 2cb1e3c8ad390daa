"""What every engine shares: the Engine protocol, a Generation in flight, and the
values that cross the engine's boundary (messages, sampling, results, errors)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

StopReason = Literal["stop", "length", "cancelled", "error"]


class EngineError(Exception):
    """The engine cannot serve a request; the message is for people."""


class EngineBusy(EngineError):
    """The queue is full: refused at once rather than waiting forever."""


class EngineStopped(EngineError):
    """The engine's worker stopped: nothing is answered until it has been restarted."""


def stopped_message(failure: str | None = None) -> str:
    """What people are told while the model is stopped (`failure` says why, if known)."""
    why = f" ({failure})" if failure else ""
    return f"The model stopped{why}; please try again in a moment."


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """How to sample one reply."""

    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40  # 0 = off
    seed: int = -1
    stop: tuple[str, ...] = ()


@dataclass
class GenerationResult:
    """How a generation ended."""

    text: str
    stop_reason: StopReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    queued_s: float = 0.0
    first_token_s: float | None = None
    decode_s: float = 0.0
    cached_tokens: int = 0  # prompt tokens whose KV was already there (not prefilled)
    # Batched engine: llama_decode's time on the steps that carried this prompt (with
    # whatever else those steps held), so first_token_s - prefill_s is the overhead.
    prefill_s: float = 0.0

    @property
    def tokens_per_second(self) -> float | None:
        """Decode speed after the first token, or None when too short to tell."""
        if self.completion_tokens < 2 or self.decode_s <= 0:
            return None
        return (self.completion_tokens - 1) / self.decode_s


@dataclass(frozen=True)
class EngineInfo:
    """What the engine runs, for /model and `causette model info`."""

    model_name: str
    model_path: Path
    architecture: str
    n_ctx: int
    trained_context: int | None
    chat_template_source: str
    gpu_layers: int
    threads: int


_END = object()


class Generation:
    """One request in flight: iterate it for text deltas, cancel it at any time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, messages: Sequence[ChatMessage],
                 params: SamplingParams, priority: int, cache_key: str | None = None) -> None:
        self.messages = tuple(messages)
        self.params = params
        self.priority = priority
        self.cache_key = cache_key  # the conversation, so its KV can stay resident
        self.submitted = time.perf_counter()
        self._loop = loop
        self._deltas: asyncio.Queue[object] = asyncio.Queue()
        self._done: asyncio.Future[GenerationResult] = loop.create_future()
        self._cancel = threading.Event()
        self._cancelled_on_loop = asyncio.Event()
        self._so_far: list[str] = []

    def cancel(self) -> None:
        """Ask the worker to stop; safe from any thread, any number of times."""
        self._cancel.set()
        self._call(self._cancelled_on_loop.set)

    async def wait_cancelled(self) -> None:
        """Return once cancel() was called (for backends that run on the loop)."""
        await self._cancelled_on_loop.wait()

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """True once the result is known."""
        return self._done.done()

    def __aiter__(self) -> Generation:
        return self

    async def __anext__(self) -> str:
        item = await self._deltas.get()
        if item is _END:
            self._deltas.put_nowait(_END)  # later iterations end at once too
            raise StopAsyncIteration
        assert isinstance(item, str)
        return item

    async def result(self) -> GenerationResult:
        """Wait for the end of the generation (consuming no deltas)."""
        return await asyncio.shield(self._done)

    @property
    def text_so_far(self) -> str:
        """What has been streamed so far (for checkpoints of long answers)."""
        return "".join(self._so_far)

    def _push(self, delta: str) -> None:
        self._so_far.append(delta)
        self._deltas.put_nowait(delta)

    # Called from the worker thread.
    def _emit(self, delta: str) -> None:
        self._call(self._push, delta)

    def _finish(self, result: GenerationResult) -> None:
        def finish() -> None:
            if not self._done.done():
                self._done.set_result(result)
            self._deltas.put_nowait(_END)

        self._call(finish)

    def _end(self, stop_reason: StopReason, error: str) -> None:
        """End with what was already streamed, when the worker cannot say more (from any
        thread). Runs on the loop after the deltas already sent, so the text kept is
        exactly what the user saw; a result already set wins."""
        def end() -> None:
            if not self._done.done():
                self._done.set_result(GenerationResult(
                    self.text_so_far, stop_reason, error=error,
                    queued_s=time.perf_counter() - self.submitted))
            self._deltas.put_nowait(_END)

        self._call(end)

    def _call(self, fn: Any, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass


def emit_all(deltas: Sequence[tuple[Generation, str]]) -> None:
    """From a worker: several generations' text deltas, each generation's in order, in one
    call to their loop (one wake-up of the loop per decoding step, not one per sequence)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Generation, str]]] = {}
    for generation, delta in deltas:
        by_loop.setdefault(generation._loop, []).append((generation, delta))
    for batch in by_loop.values():
        batch[0][0]._call(_push_all, batch)


def _push_all(deltas: list[tuple[Generation, str]]) -> None:
    for generation, delta in deltas:
        generation._push(delta)


class Engine(Protocol):
    """What the assistant needs from an LLM backend."""

    info: EngineInfo

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def submit(self, messages: Sequence[ChatMessage], params: SamplingParams,
               priority: int = 0, cache_key: str | None = None) -> Generation: ...
    def count_tokens(self, text: str) -> int: ...
    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int: ...
    def truncate(self, text: str, max_tokens: int) -> str: ...
    def queue_position(self, generation: Generation) -> int: ...
    @property
    def queue_depth(self) -> int: ...
    @property
    def tokens_per_second(self) -> float | None: ...


@runtime_checkable
class Supervised(Protocol):
    """An engine whose health can be watched and which can be restarted in place (the
    assistant and the prompt planner keep their reference to it)."""

    @property
    def healthy(self) -> bool: ...
    @property
    def failure(self) -> str | None: ...
    async def wait_failed(self) -> str: ...
    async def restart(self) -> None: ...
