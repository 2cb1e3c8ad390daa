"""Wiring: settings -> store + engine -> assistant, opened and closed together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.assistant import Assistant
from bot.config import Settings
from bot.engine import Engine
from bot.engine.batched import BatchedLlamaEngine
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The core every surface talks to."""

    settings: Settings
    store: Store
    engine: Engine
    assistant: Assistant


def make_engine(settings: Settings) -> Engine:
    """The engine LLM_BACKEND asks for: in-process llama.cpp, or OpenAI-compatible servers."""
    if settings.llm_backend == "openai":
        from bot.engine.openai_compat import OpenAIEngine

        return OpenAIEngine(settings)
    return BatchedLlamaEngine(settings)


@asynccontextmanager
async def open_runtime(settings: Settings, engine: Engine | None = None
                       ) -> AsyncIterator[Runtime]:
    """Open the database and load the model; on exit finish in-flight turns and close."""
    store = await Store.from_settings(settings)
    try:
        engine = engine or make_engine(settings)
        await engine.start()
        try:
            assistant = Assistant(settings, store, engine)
            log.info("ready: model %s, database %s", engine.info.model_name,
                     store.location)
            if settings.metrics_port:
                assistant.metrics.serve(settings.metrics_port)
            chores = [asyncio.create_task(_retention_loop(assistant))]
            if store.dialect == "postgresql":
                chores.append(asyncio.create_task(_sweep_loop(store)))
            try:
                yield Runtime(settings, store, engine, assistant)
            finally:
                for chore in chores:
                    chore.cancel()
                await engine.close()  # cancels what is queued or running...
                await assistant.drain()  # ...and each of those turns is stored as such
        finally:
            await engine.close()
    finally:
        await store.close()


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
