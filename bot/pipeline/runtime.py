"""Wiring: settings -> store + engine -> assistant, opened and closed together.

The engine is supervised (`bot.engine.supervisor`): when the supervisor gives up, the
runtime cancels the task that opened it, so the surface shuts down as on SIGTERM
(answers in flight stored, database closed), and leaving the runtime then raises
`SystemExit(EXIT_ENGINE_STOPPED)`: the process exits non-zero for its service manager.
A surface that does not unwind within `EXIT_GRACE_S` + ENGINE_SHUTDOWN_SECONDS (a
thread blocked on the terminal, say) is ended with `os._exit`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.config import Settings
from bot.engine import Engine
from bot.engine.batched import BatchedLlamaEngine
from bot.engine.protocol import Supervised
from bot.engine.supervisor import EXIT_ENGINE_STOPPED, Supervisor
from bot.pipeline.assistant import Assistant
from bot.store import Store

log = logging.getLogger(__name__)

EXIT_GRACE_S = 90.0  # past the engine's own bound: the surfaces' drains (WhatsApp: 60 s)


@dataclass
class Runtime:
    """The core every surface talks to."""

    settings: Settings
    store: Store
    engine: Engine
    assistant: Assistant
    supervisor: Supervisor | None = None


def make_engine(settings: Settings) -> Engine:
    """The engine LLM_BACKEND asks for: in-process llama.cpp, or OpenAI-compatible servers."""
    if settings.llm_backend == "openai":
        from bot.engine.openai_compat import OpenAIEngine

        return OpenAIEngine(settings)
    return BatchedLlamaEngine(settings)


@asynccontextmanager
async def open_runtime(settings: Settings, engine: Engine | None = None
                       ) -> AsyncIterator[Runtime]:
    """Open the database and load the model; on exit finish in-flight turns and close.

    Raises SystemExit(EXIT_ENGINE_STOPPED) on the way out once the engine stopped and
    could not be restarted (see the module's docstring)."""
    opener = asyncio.current_task()
    exiting = _Exit()
    supervisor: Supervisor | None = None
    store = await Store.from_settings(settings)
    try:
        engine = engine or make_engine(settings)
        await engine.start()
        try:
            assistant = Assistant(settings, store, engine)
            log.info("ready: model %s, database %s", engine.info.model_name,
                     store.location)
            chores = [asyncio.create_task(_retention_loop(assistant))]
            if isinstance(engine, Supervised):
                watched = engine
                assistant.metrics.watch_engine(lambda: watched.healthy)
                supervisor = Supervisor(
                    engine, settings, metrics=assistant.metrics,
                    on_give_up=lambda why: exiting.start(opener, settings),
                    record=store.record_event)
                chores.append(asyncio.create_task(supervisor.run()))
            if settings.metrics_port:
                assistant.metrics.serve(settings.metrics_port)
            if store.dialect == "postgresql":
                chores.append(asyncio.create_task(_sweep_loop(store)))
            try:
                yield Runtime(settings, store, engine, assistant, supervisor)
            finally:
                for chore in chores:
                    chore.cancel()
                await engine.close()  # cancels what is queued or running...
                await assistant.drain()  # ...and each of those turns is stored as such
        finally:
            await engine.close()
    except asyncio.CancelledError:
        if not exiting.started:
            raise
        if opener is not None:
            opener.uncancel()  # this cancellation was ours: it becomes the exit below
    finally:
        await store.close()
    if exiting.started:
        raise SystemExit(EXIT_ENGINE_STOPPED)


def _hard_exit(code: int) -> None:
    os._exit(code)  # pragma: no cover - ends the process


class _Exit:
    """The process's way out once the engine could not be restarted."""

    def __init__(self) -> None:
        self.started = False
        self.timer: threading.Timer | None = None

    def start(self, opener: asyncio.Task[object] | None, settings: Settings) -> None:
        if self.started:
            return
        self.started = True
        # Bound now, so the timer ends the process even if what follows never returns.
        self.timer = threading.Timer(EXIT_GRACE_S + settings.engine_shutdown_seconds,
                                     _hard_exit, (EXIT_ENGINE_STOPPED,))
        self.timer.daemon = True
        self.timer.start()
        if opener is not None:
            opener.cancel()  # the surface unwinds as on SIGTERM, through open_runtime


async def _sweep_loop(store: Store, every_s: float = 300.0) -> None:
    """On a shared PostgreSQL, answers of a process that died are found by the others:
    streaming ones not checkpointed for a long time are marked interrupted."""
    while True:
        await asyncio.sleep(every_s)
        try:
            swept = await store.sweep_interrupted()
            if swept:
                log.info("marked %s answers of a stopped process as interrupted", swept)
        except Exception:  # the database is away: try again next time
            log.exception("sweeping interrupted answers failed")


async def _retention_loop(assistant: Assistant) -> None:
    """Apply RETENTION_DAYS at start-up, then once a day."""
    if not assistant.settings.retention_days:
        return
    while True:
        try:
            deleted = await assistant.privacy.apply_retention()
            if deleted:
                log.info("retention: deleted %s old messages", deleted)
        except Exception:  # a locked database today is retried tomorrow
            log.exception("retention failed")
        await asyncio.sleep(86_400)
