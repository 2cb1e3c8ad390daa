"""The OpenAI-compatible backend against real llama-cpp-python servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.engine import ChatMessage, SamplingParams
from bot.engine.openai_compat import OpenAIEngine
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import open_runtime
from tests.support.llama_server import Server, free_port


@pytest.fixture(scope="module")
def server(model_path: Path) -> Iterator[Server]:
    running = Server(model_path)
    yield running
    running.kill()


@pytest.fixture
async def remote(settings: Settings, server: Server) -> AsyncIterator[OpenAIEngine]:
    engine = OpenAIEngine(settings.model_copy(update={"llm_backend": "openai",
                                                      "llm_base_url": server.url}))
    await engine.start()
    yield engine
    await engine.close()


GREEDY = SamplingParams(max_tokens=24, temperature=0.0, seed=1)


def chat(text: str) -> list[ChatMessage]:
    return [ChatMessage("system", "You are helpful."), ChatMessage("user", text)]


async def test_streamed_reply(remote: OpenAIEngine) -> None:
    generation = remote.submit(chat("Name three colours."), GREEDY)
    deltas = [d async for d in generation]
    result = await generation.result()
    assert len(deltas) > 2 and "".join(deltas) == result.text
    assert result.stop_reason in ("stop", "length") and result.completion_tokens > 0


async def test_cancel_mid_stream(remote: OpenAIEngine) -> None:
    generation = remote.submit(chat("Write a long story."), SamplingParams(max_tokens=300))
    count = 0
    async for _ in generation:
        count += 1
        if count == 3:
            generation.cancel()
    result = await generation.result()
    assert result.stop_reason == "cancelled" and result.completion_tokens < 300


async def test_pipeline_stores_the_remote_answer(settings: Settings, server: Server) -> None:
    remote_settings = settings.model_copy(update={
        "llm_backend": "openai", "llm_base_url": server.url,
        "model_path": Path("/nonexistent/no-model-needed.gguf")})
    async with open_runtime(remote_settings) as runtime:
        reply = await runtime.assistant.handle(Inbound("local", "ada", "t", "Hello!"))
        outcome = await reply.outcome()
        assert outcome.status == "complete" and outcome.text
        turns = await runtime.assistant.history("local", "ada", "t")
        assert turns[-1].content == outcome.text


async def test_one_server_down_all_requests_answered(settings: Settings,
                                                     server: Server) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    engine = OpenAIEngine(settings.model_copy(update={
        "llm_backend": "openai", "llm_base_url": f"{dead},{server.url}", "n_parallel": 1}))
    await engine.start()
    try:
        prompts = [chat(f"Tell me a fact about the number {i}.") for i in range(4)]
        results = await asyncio.gather(*(engine.submit(p, GREEDY).result() for p in prompts))
        assert all(r.stop_reason in ("stop", "length") and r.text for r in results), results
        assert engine.servers[0].down_until > time.monotonic()  # taken out for a while
    finally:
        await engine.close()


async def test_no_server_is_a_clear_error_not_a_hang(settings: Settings) -> None:
    engine = OpenAIEngine(settings.model_copy(update={
        "llm_backend": "openai", "llm_base_url": f"http://127.0.0.1:{free_port()}/v1"}))
    await engine.start()
    try:
        result = await asyncio.wait_for(engine.submit(chat("Hi"), GREEDY).result(), 30)
        assert result.stop_reason == "error" and "No inference server" in (result.error or "")
    finally:
        await engine.close()


async def test_server_killed_mid_stream_stores_a_failed_turn(settings: Settings,
                                                             model_path: Path) -> None:
    doomed = Server(model_path)
    remote_settings = settings.model_copy(update={
        "llm_backend": "openai", "llm_base_url": doomed.url, "max_reply_tokens": 400})
    async with open_runtime(remote_settings) as runtime:
        reply = await runtime.assistant.handle(
            Inbound("local", "ada", "t", "Write a very long story about the sea."))
        count = 0
        async for _ in reply:
            count += 1
            if count == 3:
                doomed.kill()
        outcome = await asyncio.wait_for(reply.outcome(), 60)
        assert outcome.status == "failed" and "broke off" in (outcome.error or "")
        turns = await runtime.assistant.history("local", "ada", "t")
        assert turns[-1].status == "failed" and turns[-1].content == outcome.text


async def test_bad_request_is_a_clear_error(settings: Settings, server: Server) -> None:
    # A path the server does not serve answers 404: a refusal, not a server to retry.
    wrong = OpenAIEngine(settings.model_copy(update={
        "llm_backend": "openai", "llm_base_url": f"{server.url}/no-such-api"}))
    await wrong.start()
    try:
        result = await wrong.submit(chat("Hi"), GREEDY).result()
    finally:
        await wrong.close()
    assert result.stop_reason == "error" and result.text == ""
    assert "refused the request (HTTP 404" in (result.error or "")
    async with aiohttp.ClientSession() as session:  # the server is still fine afterwards
        async with session.get(server.url + "/models") as response:
            assert response.status == 200
