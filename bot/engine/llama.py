"""The single-stream reference engine: one model in memory, owned by one worker thread.

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
from typing import TYPE_CHECKING, Any

from bot.engine.gguf import GGUFInfo, ModelFileError, read_gguf
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
from bot.engine.template import ChatTemplate

if TYPE_CHECKING:
    from llama_cpp import Llama

    from bot.config import Settings

log = logging.getLogger(__name__)

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
        self._template: ChatTemplate | None = None
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
        if self._template is None:
            raise EngineError("The model is not loaded.")
        return self._template.render(messages)

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
        self._template = ChatTemplate(llm, gguf.chat_template)
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
