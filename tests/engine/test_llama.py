"""The real llama.cpp engine on the default model: streaming, queue, cancel, threads."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import ChatMessage, EngineBusy, LlamaEngine, SamplingParams
from bot.engine.gguf import ModelFileError

GREEDY = SamplingParams(max_tokens=24, temperature=0.0, seed=1)


def chat(text: str) -> list[ChatMessage]:
    return [ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", text)]


async def test_streams_deltas_that_add_up_to_the_result(engine: LlamaEngine) -> None:
    generation = engine.submit(chat("Name three colours."), GREEDY)
    deltas = [d async for d in generation]
    result = await generation.result()
    assert len(deltas) > 3
    assert "".join(deltas) == result.text
    assert result.stop_reason in ("stop", "length")
    assert result.completion_tokens > 0
    assert result.prompt_tokens > 10
    assert engine.info.architecture == "llama"
    assert engine.info.chat_template_source.startswith("GGUF metadata")


async def test_greedy_is_deterministic(engine: LlamaEngine) -> None:
    first = await engine.submit(chat("Say hello."), GREEDY).result()
    second = await engine.submit(chat("Say hello."), GREEDY).result()
    assert first.text == second.text and first.text


async def test_length_stop_reason(engine: LlamaEngine) -> None:
    result = await engine.submit(chat("Write a long story about a cat."),
                                 SamplingParams(max_tokens=5, temperature=0.0)).result()
    assert result.stop_reason == "length"
    assert result.completion_tokens <= 6


async def test_inference_never_runs_on_the_loop_thread(engine: LlamaEngine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = engine._generate

    def spy(generation):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return real(generation)

    monkeypatch.setattr(engine, "_generate", spy)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await engine.submit(chat("Tell me about the sea."), GREEDY).result()
    task.cancel()
    assert seen == ["causette-engine"]
    assert threading.current_thread().name != "causette-engine"
    assert ticks > 0  # the loop kept running while the model worked


async def test_cancel_stops_within_a_token_or_two(engine: LlamaEngine) -> None:
    generation = engine.submit(chat("Write a long essay about rivers."),
                               SamplingParams(max_tokens=200, temperature=0.0))
    received = 0
    async for _ in generation:
        received += 1
        if received == 3:
            generation.cancel()
    result = await generation.result()
    assert result.stop_reason == "cancelled"
    assert result.completion_tokens <= 3 + 3
    # The worker is free again.
    assert (await engine.submit(chat("Hi"), GREEDY).result()).stop_reason != "error"


async def test_priority_first_then_fifo(engine: LlamaEngine) -> None:
    blocker = engine.submit(chat("Count from one to twenty."),
                            SamplingParams(max_tokens=40, temperature=0.0))
    async for _ in blocker:  # the worker is busy with it from now on
        break
    order: list[str] = []
    jobs = {
        "low-1": engine.submit(chat("a"), GREEDY, priority=0),
        "low-2": engine.submit(chat("b"), GREEDY, priority=0),
        "high": engine.submit(chat("c"), GREEDY, priority=10),
    }
    assert engine.queue_position(jobs["high"]) == 1
    assert engine.queue_position(jobs["low-2"]) == 3

    async def record(name: str) -> None:
        await jobs[name].result()
        order.append(name)

    await asyncio.gather(*(record(n) for n in jobs), blocker.result())
    assert order == ["high", "low-1", "low-2"]


async def test_full_queue_refuses_at_once(settings: Settings) -> None:
    engine = LlamaEngine(settings.model_copy(update={"queue_max": 2}))
    await engine.start()
    try:
        running = engine.submit(chat("Write a poem."), SamplingParams(max_tokens=30))
        async for _ in running:
            break
        waiting = [engine.submit(chat(str(i)), GREEDY) for i in range(2)]
        with pytest.raises(EngineBusy, match="try again"):
            engine.submit(chat("one too many"), GREEDY)
        for generation in (running, *waiting):
            assert (await generation.result()).stop_reason in ("stop", "length")
    finally:
        await engine.close()


async def test_four_requests_at_once_all_complete(engine: LlamaEngine) -> None:
    generations = [engine.submit(chat(f"Give me a fact about the number {i}."), GREEDY)
                   for i in range(4)]
    results = await asyncio.gather(*(g.result() for g in generations))
    assert all(r.stop_reason in ("stop", "length") and r.text for r in results)


async def test_close_cancels_what_waits(settings: Settings) -> None:
    engine = LlamaEngine(settings)
    await engine.start()
    running = engine.submit(chat("Write a story."), SamplingParams(max_tokens=200))
    waiting = engine.submit(chat("Another one."), GREEDY)
    async for _ in running:
        break
    await engine.close()
    assert (await running.result()).stop_reason == "cancelled"
    assert (await waiting.result()).stop_reason == "cancelled"


async def test_bad_model_file_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 8)
    for path in (bogus, tmp_path / "missing.gguf"):
        engine = LlamaEngine(settings.model_copy(update={"model_path": path}))
        with pytest.raises(ModelFileError):
            await engine.start()


async def test_tokenizer_helpers(engine: LlamaEngine) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    assert engine.count_tokens(text) > 100
    cut = engine.truncate(text, 10)
    assert text.startswith(cut) and 0 < engine.count_tokens(cut) <= 10
    assert engine.truncate("short", 10) == "short"
