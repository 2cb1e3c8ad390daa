"""Faults injected into the real engines on the real model: each fault ends only the
conversations it concerns, the worker goes on, a dead worker fails everything at once
and refuses new requests until it is restarted, and close() is bounded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import llama_cpp
import pytest

from bot.config import Settings
from bot.engine import ChatMessage, Generation, GenerationResult, LlamaEngine, SamplingParams
from bot.engine.batched import BatchedLlamaEngine
from bot.engine.protocol import EngineStopped

SHORT = SamplingParams(max_tokens=12, temperature=0.0)
LONG = SamplingParams(max_tokens=300, temperature=0.0)
PATIENCE = 120  # seconds: a hang guard only, never a timing assertion


def chat(text: str) -> list[ChatMessage]:
    return [ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", text)]


def answered(result: GenerationResult) -> bool:
    return result.stop_reason in ("stop", "length") and bool(result.text) \
        and result.error is None


async def results(*generations: Generation) -> list[GenerationResult]:
    return await asyncio.wait_for(asyncio.gather(*(g.result() for g in generations)),
                                  PATIENCE)


async def shown(generation: Generation, count: int) -> str:
    """Read `count` deltas (the text the user has seen so far)."""
    seen = []
    async for delta in generation:
        seen.append(delta)
        if len(seen) == count:
            break
    return "".join(seen)


async def rest(generation: Generation) -> str:
    return "".join([d async for d in generation])


def engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "causette-engine" and t.is_alive()]


@pytest.fixture
async def batched(settings: Settings) -> AsyncIterator[BatchedLlamaEngine]:
    engine = BatchedLlamaEngine(settings.model_copy(update={"n_parallel": 3}))
    await engine.start()
    yield engine
    await engine.close()


def seqs_in(batch: Any) -> set[int]:
    return {int(batch.seq_id[i][0]) for i in range(batch.n_tokens)}


def fake_decode(monkeypatch: pytest.MonkeyPatch,
                fault: Callable[[Any], int | None]) -> Callable[..., int]:
    """Wrap llama_decode as the batched engine calls it: `fault(batch)` returns a status
    to return instead of decoding (or raises), None to decode for real."""
    real = llama_cpp.llama_decode

    def decode(ctx: Any, batch: Any) -> int:
        status = fault(batch)
        return real(ctx, batch) if status is None else status

    monkeypatch.setattr(llama_cpp, "llama_decode", decode)
    return real


# Batched engine: one conversation's fault -------------------------------------------

async def test_a_decode_without_room_evicts_an_idle_sequence_and_nobody_fails(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await batched.submit(chat("Say hello."), SHORT, cache_key="idle").result()
    assert answered(first) and set(batched.resident()) == {"idle"}
    calls = []

    def no_room_once(batch: Any) -> int | None:
        calls.append(batch.n_tokens)
        return 1 if len(calls) == 1 else None

    fake_decode(monkeypatch, no_room_once)
    together = [batched.submit(chat(f"Name a colour, number {i}."), SHORT) for i in range(2)]
    assert all(answered(r) for r in await results(*together))
    assert "idle" in batched.saved()  # its KV went to RAM to make the room...
    assert "idle" not in batched.resident()  # ...and left its sequence
    assert calls[0] == calls[1]  # the same batch was retried whole, not split


async def test_a_sequence_that_cannot_fit_fails_alone_keeping_what_was_shown(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = batched.submit(chat("Write a long story about a lighthouse."), LONG)
    others = [batched.submit(chat(f"Describe city number {i}."), SHORT) for i in range(2)]
    seen = await shown(victim, 4)

    def victim_seq() -> set[int]:
        return {s.seq for s in batched._slots if s.generation is victim}

    fake_decode(monkeypatch, lambda batch: 1 if seqs_in(batch) & victim_seq() else None)
    seen += await rest(victim)
    failed, *fine = await results(victim, *others)
    assert failed.stop_reason == "error" and "ran out of memory" in (failed.error or "")
    assert failed.text == seen and seen  # the user keeps exactly what was shown
    assert all(answered(r) for r in fine)
    monkeypatch.undo()
    assert answered(await batched.submit(chat("Say hi."), SHORT).result())
    assert batched.healthy and len(engine_threads()) == 1


async def test_a_decode_that_raises_once_is_retried_and_nobody_fails(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    raised = []

    def raise_once(batch: Any) -> int | None:
        if not raised:
            raised.append(batch.n_tokens)
            raise OSError("injected fault")
        return None

    fake_decode(monkeypatch, raise_once)
    together = [batched.submit(chat(f"Tell me about the number {i}."), SHORT)
                for i in range(2)]
    assert all(answered(r) for r in await results(*together))
    assert raised


async def test_a_decode_that_always_raises_for_one_sequence_fails_only_it(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = batched.submit(chat("Tell me a joke."), SHORT)
    other = batched.submit(chat("Tell me a fact."), SHORT)

    def fault(batch: Any) -> int | None:
        if seqs_in(batch) & {s.seq for s in batched._slots if s.generation is victim}:
            raise OSError("injected fault")
        return None

    fake_decode(monkeypatch, fault)
    failed, fine = await results(victim, other)
    assert failed.stop_reason == "error" and "injected fault" in (failed.error or "")
    assert "please try again" in (failed.error or "")
    assert answered(fine)


async def test_a_sampling_fault_fails_only_that_conversation(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = batched.submit(chat("Write a long story about a cat."), LONG)
    other = batched.submit(chat("Write a short poem."), SHORT)
    seen = await shown(victim, 3)
    real = batched._sample

    def sample(slot: Any, index: int) -> None:
        if slot.generation is victim:
            raise ValueError("injected sampling fault")
        real(slot, index)

    monkeypatch.setattr(batched, "_sample", sample)
    seen += await rest(victim)
    failed, fine = await results(victim, other)
    assert failed.stop_reason == "error" and "injected sampling fault" in (failed.error or "")
    assert failed.text == seen
    assert answered(fine)


async def test_a_step_that_raises_fails_its_request_and_the_worker_goes_on(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    real = batched._step
    calls = []

    def step(active: Any) -> None:
        calls.append(len(active))
        if len(calls) == 1:
            raise RuntimeError("injected step fault")
        real(active)

    monkeypatch.setattr(batched, "_step", step)
    failed = await batched.submit(chat("Hello?"), SHORT).result()
    assert failed.stop_reason == "error" and "injected step fault" in (failed.error or "")
    later = [batched.submit(chat(f"Count to {i}."), SHORT) for i in (3, 4)]
    assert all(answered(r) for r in await results(*later))
    assert batched.healthy and len(engine_threads()) == 1


async def test_a_request_that_cannot_start_fails_alone_and_frees_its_sequence(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    real = batched._make_sampler

    def make_sampler(generation: Generation) -> Any:
        if generation.messages[-1].content == "Doomed.":
            raise MemoryError("injected")
        return real(generation)

    monkeypatch.setattr(batched, "_make_sampler", make_sampler)
    failed = await batched.submit(chat("Doomed."), SHORT).result()
    assert failed.stop_reason == "error" and "MemoryError" in (failed.error or "")
    assert all(slot.generation is None for slot in batched._slots)
    fine = [batched.submit(chat(f"Say {w}."), SHORT) for w in ("yes", "no", "maybe")]
    assert all(answered(r) for r in await results(*fine))


# Batched engine: the worker dies ------------------------------------------------------

async def test_a_dead_worker_fails_everything_at_once_and_refuses_until_restarted(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = BatchedLlamaEngine(settings.model_copy(update={"n_parallel": 2}))
    await engine.start()
    try:
        running = [engine.submit(chat(f"Write a long story, number {i}."), LONG)
                   for i in range(2)]
        queued = engine.submit(chat("I wait for a free sequence."), SHORT)
        seen = [await shown(g, 2) for g in running]
        assert engine.queue_position(queued) == 1

        def admit(block: bool) -> bool:
            raise SystemError("injected: the worker's loop itself broke")

        monkeypatch.setattr(engine, "_admit", admit)
        why = await asyncio.wait_for(engine.wait_failed(), PATIENCE)
        assert "injected" in why and not engine.healthy and engine.failure == why
        assert engine._thread is not None
        await asyncio.to_thread(engine._thread.join, PATIENCE)
        ended = await results(*running, queued)
        for result in ended:
            assert result.stop_reason == "error"
            assert "The model stopped" in (result.error or "") and "injected" in (
                result.error or "")
        for result, text in zip(ended[:2], seen, strict=True):
            assert result.text.startswith(text)  # what was shown is kept
        with pytest.raises(EngineStopped, match="The model stopped"):
            engine.submit(chat("Anyone there?"), SHORT)
        assert engine.count_tokens("still counting while stopped") > 0
        assert not engine_threads()

        monkeypatch.undo()
        await asyncio.wait_for(engine.restart(), PATIENCE)
        assert engine.healthy and engine.failure is None and len(engine_threads()) == 1
        after = [engine.submit(chat(f"Say {w}."), SHORT) for w in ("one", "two", "three")]
        assert all(answered(r) for r in await results(*after))
    finally:
        await engine.close()
    assert not engine_threads()


async def test_close_is_bounded_when_the_worker_is_stuck(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = BatchedLlamaEngine(settings.model_copy(update={
        "n_parallel": 2, "engine_shutdown_seconds": 0.2}))
    await engine.start()
    worker = engine._thread
    assert worker is not None
    release = threading.Event()
    stuck = threading.Event()
    generation = engine.submit(chat("Write a long story."), LONG)
    await shown(generation, 2)

    def hang(batch: Any) -> None:
        stuck.set()
        release.wait()
        return None

    fake_decode(monkeypatch, hang)
    try:
        await asyncio.wait_for(asyncio.to_thread(stuck.wait), PATIENCE)
        await asyncio.wait_for(engine.close(), PATIENCE)
        result = await asyncio.wait_for(generation.result(), PATIENCE)
        assert result.stop_reason == "cancelled" and "shutting down" in (result.error or "")
        assert worker.is_alive()  # close() did not wait for it
        with pytest.raises(Exception, match="not running"):
            engine.submit(chat("Too late."), SHORT)
    finally:
        release.set()
        await asyncio.to_thread(worker.join, PATIENCE)
    assert not worker.is_alive() and engine._llm is None  # it freed the model on its way out


# Single-stream engine -----------------------------------------------------------------

async def test_single_stream_decode_fault_fails_one_request_and_goes_on(
        engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp.llama_cpp as low_level

    real = low_level.llama_decode
    calls = []

    def decode(ctx: Any, batch: Any) -> int:
        calls.append(1)
        return 1 if len(calls) == 3 else real(ctx, batch)

    monkeypatch.setattr(low_level, "llama_decode", decode)
    victim = engine.submit(chat("Tell me a story."), LONG)
    following = engine.submit(chat("Say hi."), SHORT)
    failed, fine = await results(victim, following)
    assert failed.stop_reason == "error" and "llama_decode returned 1" in (failed.error or "")
    assert answered(fine) and engine.healthy


async def test_single_stream_worker_death_and_restart(
        engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    running = engine.submit(chat("Write a long story."), LONG)
    queued = engine.submit(chat("Next."), SHORT)
    await shown(running, 2)
    real_get = engine._queue.get

    def get(block: bool = True, timeout: float | None = None) -> Any:
        if block:  # the worker's wait for its next request, not the final sweep
            raise SystemError("injected: the worker's queue broke")
        return real_get(block, timeout)

    monkeypatch.setattr(engine._queue, "get", get)
    running.cancel()
    why = await asyncio.wait_for(engine.wait_failed(), PATIENCE)
    assert "injected" in why and not engine.healthy
    assert (await running.result()).stop_reason == "cancelled"
    queued_result = await asyncio.wait_for(queued.result(), PATIENCE)
    assert queued_result.stop_reason == "error" and "The model stopped" in (
        queued_result.error or "")
    with pytest.raises(EngineStopped):
        engine.submit(chat("Hello?"), SHORT)
    monkeypatch.undo()
    await asyncio.wait_for(engine.restart(), PATIENCE)
    assert engine.healthy
    assert answered(await engine.submit(chat("Say hi."), SHORT).result())


async def test_a_failed_prefix_copy_ends_only_the_waiting_conversations(
        batched: BatchedLlamaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conversations arriving together wait for the first to prefill their shared system
    prompt, then copy it: a copy that fails ends those alone; the first one answers and
    the engine goes on."""
    gate, entered = threading.Event(), threading.Event()
    decode = batched._decode

    def hold_first(parts: list[Any]) -> Any:
        entered.set()
        gate.wait(PATIENCE)  # the three below queue up while the blocker's step waits
        return decode(parts)

    share = batched._share_prefix

    def fail_for_waiters(slot: Any, prompt: list[int], keep: int) -> int:
        if slot.waits_for is not None:
            raise OSError("injected copy fault")
        return share(slot, prompt, keep)

    monkeypatch.setattr(batched, "_decode", hold_first)
    monkeypatch.setattr(batched, "_share_prefix", fail_for_waiters)
    blocker = batched.submit([ChatMessage("user", "Count to three.")], SHORT)
    await asyncio.to_thread(entered.wait, PATIENCE)
    system = ChatMessage("system", "You are Causette, a friendly and patient assistant. "
                                   "Answer kindly and precisely, in the user's language.")
    together = [batched.submit([system, ChatMessage("user", f"Tell me about {animal}.")],
                               SHORT) for animal in ("owls", "cats")]
    gate.set()
    first, second = await results(*together)
    assert answered(await blocker.result())
    assert answered(first)  # it prefilled the system prompt itself
    assert second.stop_reason == "error" and "injected copy fault" in (second.error or "")
    assert answered(await batched.submit(chat("Still there?"), SHORT).result())
