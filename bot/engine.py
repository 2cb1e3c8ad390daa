"""The LLM engine: one model in memory, owned by one worker thread.

The asyncio loop never waits on inference: requests go into a bounded priority queue,
the worker runs them one at a time through llama-cpp-python and streams text back to
the loop with `call_soon_threadsafe`. A caller can cancel; the worker checks between
tokens, so it stops within one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.model_files import GGUFInfo, ModelFileError, read_gguf

if TYPE_CHECKING:
    from llama_cpp import Llama

    from bot.config import Settings

log = logging.getLogger(__name__)

StopReason = Literal["stop", "length", "cancelled", "error"]

# Used only when a GGUF file carries no chat template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class EngineError(Exception):
    """The engine cannot serve a request; the message is for people."""


class EngineBusy(EngineError):
    """The queue is full: refused at once rather than waiting forever."""


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

    def _call(self, fn: Any, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass


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


@dataclass(order=True)
class _Job:
    rank: tuple[float, int]
    generation: Generation | None = field(compare=False)


class LlamaEngine:
    """The embedded engine: llama-cpp-python in process, one worker thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue(maxsize=settings.queue_max)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._llm: Llama | None = None
        self._formatter: Any = None
        self._gguf: GGUFInfo | None = None
        self._closed = False
        self._running: set[Generation] = set()
        self._speeds: deque[float] = deque(maxlen=20)
        self.info: EngineInfo

    # Life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model on the worker thread; raise ModelFileError/EngineError."""
        loop = asyncio.get_running_loop()
        loaded: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(loop, loaded),
                                        name="causette-engine", daemon=True)
        self._thread.start()
        await loaded

    async def close(self) -> None:
        """Cancel what is queued and running, stop the worker, free the model."""
        if self._closed:
            return
        self._closed = True
        self._cancel_pending("the engine is shutting down")
        for generation in list(self._running):
            generation.cancel()
        self._queue.put_nowait(_Job((float("inf"), next(self._order)), None))
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _cancel_pending(self, why: str) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.generation is not None:
                job.generation.cancel()
                job.generation._finish(GenerationResult("", "cancelled", error=why))

    # Requests ---------------------------------------------------------------------

    def submit(self, messages: Sequence[ChatMessage], params: SamplingParams,
               priority: int = 0, cache_key: str | None = None) -> Generation:
        """Queue a chat request (higher priority first, FIFO within); never blocks."""
        if self._closed or self._llm is None:
            raise EngineError("The model is not running; try again in a moment.")
        generation = Generation(asyncio.get_running_loop(), messages, params, priority,
                                cache_key)
        try:
            self._queue.put_nowait(_Job((-priority, next(self._order)), generation))
        except queue.Full:
            raise EngineBusy(
                f"I'm busy right now ({self._queue.maxsize} requests waiting); "
                "please try again in a minute."
            ) from None
        return generation

    @property
    def queue_depth(self) -> int:
        """Requests waiting, not counting the one being answered."""
        return self._queue.qsize()

    def queue_position(self, generation: Generation) -> int:
        """1 for the next in line, 0 when running or finished."""
        with self._queue.mutex:
            waiting = sorted(self._queue.queue)
        for position, job in enumerate(waiting, start=1):
            if job.generation is generation:
                return position
        return 0

    @property
    def tokens_per_second(self) -> float | None:
        """Recent decode speed, measured on real replies."""
        if not self._speeds:
            return None
        return sum(self._speeds) / len(self._speeds)

    # Tokenizer (thread-safe in llama.cpp: call it off the event loop) --------------

    def _model(self) -> Llama:
        if self._llm is None:
            raise EngineError("The model is not loaded.")
        return self._llm

    def count_tokens(self, text: str) -> int:
        """Tokens in a plain text, with the model's own tokenizer."""
        return len(self._model().tokenize(text.encode("utf-8", "replace"), add_bos=False,
                                          special=False))

    def render(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Apply the model's chat template and tokenize, ready for generation."""
        formatted = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]
        )
        return self._model().tokenize(formatted.prompt.encode("utf-8", "replace"),
                                      add_bos=not formatted.added_special, special=True)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the templated prompt of these messages takes."""
        return len(self.render(messages))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that fits in `max_tokens` tokens."""
        llm = self._model()
        tokens = llm.tokenize(text.encode("utf-8", "replace"), add_bos=False, special=False)
        if len(tokens) <= max_tokens:
            return text
        return llm.detokenize(tokens[: max(0, max_tokens)]).decode("utf-8", "ignore")

    # Worker thread ----------------------------------------------------------------

    def _run(self, loop: asyncio.AbstractEventLoop, loaded: asyncio.Future[None]) -> None:
        try:
            self._load()
        except Exception as exc:  # reported to start()'s caller, not lost in a thread
            error = exc if isinstance(exc, ModelFileError | EngineError) else EngineError(
                f"Could not load the model {self.settings.model_path}: {exc}")
            loop.call_soon_threadsafe(_set_exception, loaded, error)
            return
        loop.call_soon_threadsafe(_set_result, loaded)
        try:
            self._serve()
        finally:
            self._unload()

    def _serve(self) -> None:
        """The worker's loop: one request at a time through the high-level API."""
        while True:
            job = self._queue.get()
            generation = job.generation
            if generation is None:
                break
            self._running.add(generation)
            try:
                generation._finish(self._generate(generation))
            except Exception as exc:  # one bad request never kills the worker
                log.exception("generation failed")
                generation._finish(GenerationResult("", "error", error=str(exc)))
            finally:
                self._running.discard(generation)

    def _unload(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def _own_context_tokens(self) -> int:
        """Context of the high-level Llama object (the batched engine keeps its own)."""
        return self.settings.n_ctx

    def _load(self) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        settings = self.settings
        self._gguf = gguf = read_gguf(settings.model_path)
        llm = Llama(
            model_path=str(settings.model_path),
            n_ctx=self._own_context_tokens(),
            n_threads=settings.threads,
            n_threads_batch=settings.threads,
            n_batch=settings.n_batch,
            n_gpu_layers=settings.n_gpu_layers,
            verbose=False,
        )
        template = gguf.chat_template or CHATML_TEMPLATE
        eos = llm.token_eos()
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llm.detokenize([eos], special=True).decode("utf-8", "ignore"),
            bos_token=llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore"),
            add_generation_prompt=True,
            stop_token_ids=[eos],
        )
        self._llm = llm
        self.info = EngineInfo(
            model_name=gguf.name,
            model_path=settings.model_path,
            architecture=gguf.architecture,
            n_ctx=settings.n_ctx,
            trained_context=gguf.context_length,
            chat_template_source=gguf.chat_template_source,
            gpu_layers=settings.n_gpu_layers,
            threads=settings.threads,
        )

    def _generate(self, generation: Generation) -> GenerationResult:
        started = time.perf_counter()
        queued = started - generation.submitted
        if generation.cancelled:
            return GenerationResult("", "cancelled", queued_s=queued)
        llm = self._model()
        params = generation.params
        prompt = self.render(generation.messages)
        room = llm.n_ctx() - len(prompt)
        if room < 1:
            return GenerationResult(
                "", "error", prompt_tokens=len(prompt), queued_s=queued,
                error=f"The prompt ({len(prompt)} tokens) does not fit the context "
                      f"({llm.n_ctx()} tokens).")
        seed = params.seed if params.seed >= 0 else random.randrange(2**31)
        pieces: list[str] = []
        reason: StopReason = "stop"
        first: float | None = None
        stream: Any = llm.create_completion(
            prompt, max_tokens=min(params.max_tokens, room), temperature=params.temperature,
            top_p=params.top_p, seed=seed, stop=list(params.stop) or None, stream=True,
        )
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                text = choice["text"]
                if text:
                    if first is None:
                        first = time.perf_counter()
                    pieces.append(text)
                    generation._emit(text)
                if choice.get("finish_reason") == "length":
                    reason = "length"
                if generation.cancelled:
                    reason = "cancelled"
                    break
        finally:
            stream.close()
        ended = time.perf_counter()
        text = "".join(pieces)
        completion = len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
        result = GenerationResult(
            text, reason, prompt_tokens=len(prompt), completion_tokens=completion,
            queued_s=queued, first_token_s=None if first is None else first - started,
            decode_s=0.0 if first is None else ended - first,
        )
        if result.tokens_per_second and reason != "cancelled":
            self._speeds.append(result.tokens_per_second)
        return result


def _set_result(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _set_exception(future: asyncio.Future[None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
