"""The supervised engine through the real runtime and model: a worker that dies ends its
answers as failed (stored so), new messages are refused clearly while it is stopped, the
supervisor restarts it, and when restarts fail the process exits with status 70."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import bot.pipeline.runtime
from bot.config import Settings
from bot.engine import ChatMessage, SamplingParams
from bot.engine.batched import BatchedLlamaEngine
from bot.engine.supervisor import EXIT_ENGINE_STOPPED, Supervisor
from bot.metrics import Metrics
from bot.pipeline.assistant import Inbound, Reply
from bot.pipeline.runtime import Runtime, open_runtime
from bot.store import Store

PATIENCE = 120  # seconds: a hang guard only, never a timing assertion
QUICK = SamplingParams(max_tokens=4, temperature=0.0)
STORY = "Write a very long story about the sea, with many chapters."


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a state that another thread or task reaches (polled: no event to await)."""
    for _ in range(PATIENCE * 50):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def first_words(reply: Reply, count: int = 2) -> str:
    seen = []
    async for delta in reply:
        seen.append(delta)
        if len(seen) == count:
            break
    return "".join(seen)


def break_worker_once(engine: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's own loop raises once: the thread ends, as a bug there would end it."""
    real = engine._admit
    broken: list[bool] = []

    def admit(block: bool) -> bool:
        if not broken:
            broken.append(True)
            raise SystemError("injected: the worker's loop broke")
        return real(block)

    monkeypatch.setattr(engine, "_admit", admit)


def local_engine(runtime: Runtime) -> BatchedLlamaEngine:
    assert isinstance(runtime.engine, BatchedLlamaEngine)
    return runtime.engine


def metric(metrics: Metrics, name: str) -> float:
    for line in metrics.render().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


async def test_a_dead_worker_fails_the_answer_stores_it_and_is_restarted(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    supervised = settings.model_copy(update={"engine_restart_backoff_seconds": 0.0,
                                             "max_reply_tokens": 400})
    async with open_runtime(supervised) as runtime:
        engine = local_engine(runtime)
        reply = await runtime.assistant.handle(Inbound("local", "ada", "t", STORY))
        seen = await first_words(reply)
        break_worker_once(engine, monkeypatch)
        outcome = await asyncio.wait_for(reply.outcome(), PATIENCE)
        assert outcome.status == "failed" and outcome.stop_reason == "error"
        assert "The model stopped" in (outcome.error or "")
        assert outcome.text.startswith(seen)  # what the user saw is what is kept
        turns = await runtime.assistant.history("local", "ada", "t")
        assert turns[-1].role == "assistant" and turns[-1].status == "failed"
        assert turns[-1].content == outcome.text

        supervisor = runtime.supervisor
        assert supervisor is not None
        await until(lambda: supervisor.restarts == 1 and engine.healthy)
        again = await runtime.assistant.handle(Inbound("local", "ada", "t", "Hello again!"))
        assert (await asyncio.wait_for(again.outcome(), PATIENCE)).status == "complete"
        metrics = runtime.assistant.metrics
        assert metric(metrics, "causette_engine_failures_total") == 1.0
        assert metric(metrics, "causette_engine_restarts_total") == 1.0
        assert metric(metrics, "causette_engine_up") == 1.0
        assert supervisor.gave_up is None
        figures = await runtime.store.stats(runtime.store.now().date().isoformat())
        assert figures["engine_events_today"] == {"engine_stopped": 1, "engine_restarted": 1}


async def test_while_stopped_messages_are_refused_clearly(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    waiting = settings.model_copy(update={"engine_restart_backoff_seconds": 600.0})
    async with open_runtime(waiting) as runtime:
        engine = local_engine(runtime)
        break_worker_once(engine, monkeypatch)
        # A request wakes the worker, which then breaks at once. Sent to the engine
        # itself: the pipeline may reach the worker (tokenizing, planning) before its
        # submit, and then refuses that message too, which is the point tested below.
        first = engine.submit([ChatMessage("user", "Hi")], QUICK)
        assert (await asyncio.wait_for(first.result(), PATIENCE)).stop_reason == "error"
        await until(lambda: runtime.supervisor is not None and runtime.supervisor.failures == 1)
        assert not engine.healthy
        assert metric(runtime.assistant.metrics, "causette_engine_up") == 0.0
        refused = await runtime.assistant.handle(Inbound("local", "bob", "t", "Anyone?"))
        assert refused.refusal_reason == "engine" and refused.refusal
        assert (await refused.outcome()).status is None
    # Leaving the runtime while the supervisor waits to restart is a plain shutdown.


async def test_failed_restarts_make_the_process_exit_non_zero(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    hard_exits: list[int] = []
    monkeypatch.setattr(bot.pipeline.runtime, "_hard_exit", hard_exits.append)
    monkeypatch.setattr(bot.pipeline.runtime, "EXIT_GRACE_S", 3600.0)
    doomed = settings.model_copy(update={"engine_restart_attempts": 0,
                                         "max_reply_tokens": 400})
    reply: Reply | None = None
    with pytest.raises(SystemExit) as exited:
        async with open_runtime(doomed) as runtime:
            reply = await runtime.assistant.handle(Inbound("local", "eve", "t", STORY))
            await first_words(reply)
            break_worker_once(local_engine(runtime), monkeypatch)
            await asyncio.sleep(PATIENCE)  # the supervisor gives up: this task is cancelled
            pytest.fail("the runtime was not stopped")
    assert exited.value.code == EXIT_ENGINE_STOPPED
    assert reply is not None
    outcome = await reply.outcome()  # stored before the runtime closed
    assert outcome.status == "failed" and "The model stopped" in (outcome.error or "")
    store = await Store.from_settings(doomed)
    try:
        user = await store.ensure_user("local", "eve")
        turns = await store.messages(await store.open_conversation(user, "t"), limit=10)
        assert [t.status for t in turns] == ["complete", "failed"]
        assert turns[-1].content == outcome.text
    finally:
        await store.close()
    assert hard_exits == []  # the graceful way out was taken


async def test_bounded_restart_tries_then_giving_up(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = BatchedLlamaEngine(settings.model_copy(update={"n_parallel": 1}))
    await engine.start()
    gave_up: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    metrics = Metrics()
    supervisor = Supervisor(engine, settings.model_copy(update={
        "engine_restart_attempts": 2, "engine_restart_backoff_seconds": 0.0}),
        metrics=metrics, on_give_up=gave_up.set_result)
    watching = asyncio.create_task(supervisor.run())
    loads: list[int] = []

    def load() -> Any:
        loads.append(1)
        raise OSError("injected: the model file went away")

    try:
        break_worker_once(engine, monkeypatch)
        monkeypatch.setattr(engine, "_load", load)
        result = await engine.submit([ChatMessage("user", "Hi")], QUICK).result()
        assert result.stop_reason == "error"
        why = await asyncio.wait_for(gave_up, PATIENCE)
        assert "the model file went away" in why and supervisor.gave_up == why
        assert loads == [1, 1] and supervisor.failures == 1 and supervisor.restarts == 0
        assert metric(metrics, "causette_engine_failures_total") == 1.0
        assert metric(metrics, "causette_engine_restarts_total") == 0.0
        await asyncio.wait_for(watching, PATIENCE)  # it returned after giving up
    finally:
        watching.cancel()
        await engine.close()
