"""The single-stream reference engine: one model in memory, owned by one worker thread.

The asyncio loop never waits on inference: requests go into a bounded priority queue,
the worker runs them one at a time through llama-cpp-python and streams text back to
the loop with `call_soon_threadsafe`. A caller can cancel; the worker checks between
tokens, so it stops within one.

Supervision: a request that fails ends alone, as an error, and the worker goes on. If the
worker thread itself dies, every open and queued request ends as failed at once, new
ones are refused with `EngineStopped`, and `wait_failed()` returns so that a supervisor
can `restart()` the engine in place. Only one thread ever decodes (llama.cpp with OpenMP
does not survive two): a restart starts the new worker only once the old one is gone.
`close()` waits at most `ENGINE_SHUTDOWN_SECONDS` for the worker.
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
    EngineStopped,
    Generation,
    GenerationResult,
    SamplingParams,
    StopReason,
    stopped_message,
)
from bot.engine.template import ChatTemplate

if TYPE_CHECKING:
    from llama_cpp import Llama

    from bot.config import Settings

log = logging.getLogger(__name__)

SHUTTING_DOWN = "The model is shutting down."


def failed_message(exc: BaseException) -> str:
    """What the user of a request that failed in the worker is told."""
    return (f"The model failed while answering ({type(exc).__name__}: {exc}); "
            "please try again.")


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
        # Set when the worker died; taken with _state so that no request is queued after
        # the dying worker emptied the queue (it would wait forever).
        self._failure: str | None = None
        self._state = threading.Lock()
        self._failed: asyncio.Event | None = None
        self.info: EngineInfo

    # Life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model on the worker thread; raise ModelFileError/EngineError."""
        if self._closed:
            raise EngineError("The engine was closed.")
        loop = asyncio.get_running_loop()
        self._failed = asyncio.Event()
        loaded: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(loop, loaded),
                                        name="causette-engine", daemon=True)
        self._thread.start()
        await loaded

    async def restart(self) -> None:
        """Load the model again on a new worker, once the old worker has stopped."""
        old = self._thread
        if old is not None and old.is_alive():
            await asyncio.to_thread(old.join, self.settings.engine_shutdown_seconds)
            if old.is_alive():
                raise EngineError("The old model worker is still running; not starting "
                                  "a second one beside it.")
        await self.start()

    async def close(self) -> None:
        """Cancel what is queued and running, stop the worker, free the model.

        Waits at most ENGINE_SHUTDOWN_SECONDS: a worker stuck in llama.cpp is left behind
        (a daemon thread, gone with the process) and its requests end as cancelled."""
        if self._closed:
            return
        with self._state:
            self._closed = True
            pending = self._take_queued()
        for generation in pending:
            generation.cancel()
            generation._finish(GenerationResult("", "cancelled", error=SHUTTING_DOWN))
        for generation in list(self._running):
            generation.cancel()
        self._queue.put_nowait(_Job((float("inf"), next(self._order)), None))
        thread = self._thread
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, self.settings.engine_shutdown_seconds)
            if thread.is_alive():
                log.error("the model worker did not stop within %ss; leaving it behind",
                          self.settings.engine_shutdown_seconds)
                for generation in list(self._running):
                    generation._end("cancelled", SHUTTING_DOWN)
                return  # the model stays loaded: the stuck worker may still be using it
        # A worker that died left the model loaded for the tokenizer: free it here.
        await asyncio.to_thread(self._unload)

    def _take_queued(self) -> list[Generation]:
        taken: list[Generation] = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return taken
            if job.generation is not None:
                taken.append(job.generation)

    # Health -----------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """True while the worker runs and serves requests."""
        thread = self._thread
        return (not self._closed and self._failure is None and self._llm is not None
                and thread is not None and thread.is_alive())

    @property
    def failure(self) -> str | None:
        """Why the worker stopped, while it is stopped; None when healthy."""
        return self._failure

    async def wait_failed(self) -> str:
        """Return once the worker has died (not when it is closed), with why."""
        while True:
            failed = self._failed
            if failed is None:
                raise EngineError("The engine was never started.")
            await failed.wait()
            if failed is self._failed:  # not an event replaced by a restart meanwhile
                return self._failure or "the model stopped"

    # Requests ---------------------------------------------------------------------

    def submit(self, messages: Sequence[ChatMessage], params: SamplingParams,
               priority: int = 0, cache_key: str | None = None) -> Generation:
        """Queue a chat request (higher priority first, FIFO within); never blocks."""
        generation = Generation(asyncio.get_running_loop(), messages, params, priority,
                                cache_key)
        with self._state:
            if self._failure is not None:
                raise EngineStopped(stopped_message(self._failure))
            if self._closed or self._llm is None:
                raise EngineError("The model is not running; try again in a moment.")
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
            self._unload()  # a restart: the model a dead worker left for the tokenizer
            self._load()
        except Exception as exc:  # reported to start()'s caller, not lost in a thread
            error = exc if isinstance(exc, ModelFileError | EngineError) else EngineError(
                f"Could not load the model {self.settings.model_path}: {exc}")
            self._unload()  # what the failed load had made so far
            loop.call_soon_threadsafe(_set_exception, loaded, error)
            return
        with self._state:
            self._failure = None
        loop.call_soon_threadsafe(_set_result, loaded)
        died: BaseException | None = None
        try:
            self._serve()
        except BaseException as exc:  # a thread has nobody to raise to: tell the loop
            died = exc
            log.critical("the model worker stopped", exc_info=exc)
        finally:
            self._stopped(loop, died)

    def _stopped(self, loop: asyncio.AbstractEventLoop, died: BaseException | None) -> None:
        """The worker's last act: end every request it leaves, free what it owned."""
        why = None if died is None else f"{type(died).__name__}: {died}"
        with self._state:
            if why is not None:
                self._failure = why
            orphans = self._take_queued()
        orphans += list(self._running)
        self._running.clear()
        for generation in orphans:
            if why is None:
                generation._end("cancelled", SHUTTING_DOWN)
            else:
                generation._end("error", stopped_message(why))
        if why is None or self._closed:
            self._unload()
        else:  # the model stays loaded, so prompts can still be counted while stopped
            self._release_context_safely()
        failed = self._failed
        if why is not None and failed is not None:
            try:
                loop.call_soon_threadsafe(failed.set)
            except RuntimeError:  # the loop is closed: nobody to tell
                pass

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
                generation._end("error", failed_message(exc))
                if self._llm is not None:
                    self._llm.reset()  # its KV is in an unknown state: start afresh
            finally:
                self._running.discard(generation)

    def _release_context(self) -> None:
        """Free what only the worker uses (the batched engine's context)."""

    def _release_context_safely(self) -> None:
        try:
            self._release_context()
        except Exception:  # freeing must not stop what follows (the model, the news)
            log.exception("freeing the model's context failed")

    def _unload(self) -> None:
        self._release_context_safely()
        llm, self._llm = self._llm, None
        # Tokenizer calls from other threads must find "not loaded", not a freed model.
        self._template = None
        if llm is not None:
            llm.close()

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
            top_p=params.top_p, top_k=params.top_k, seed=seed, stop=list(params.stop) or None,
            stream=True,
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
