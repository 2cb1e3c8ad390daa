"""A fake engine for unit tests of surfaces (cogs, webhooks): scripted, fast, observable.

Every feature also has a test through the real model; this one only makes surface
tests deterministic (exact texts, controllable pacing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.engine import ChatMessage, EngineInfo, Generation, GenerationResult, SamplingParams


def echo(messages: Sequence[ChatMessage]) -> str:
    """The default script: repeat the user's last message."""
    return f"You said: {messages[-1].content}"


class FakeEngine:
    """Streams a scripted answer word by word on the event loop."""

    def __init__(self, script: Callable[[Sequence[ChatMessage]], str] = echo,
                 delay: float = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.prompts: list[list[ChatMessage]] = []
        self.priorities: list[int] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.info = EngineInfo(
            model_name="fake", model_path=Path("fake.gguf"), architecture="fake", n_ctx=4096,
            trained_context=4096, chat_template_source="none", gpu_layers=0, threads=1)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def submit(self, messages: Sequence[ChatMessage], params: SamplingParams,
               priority: int = 0, cache_key: str | None = None) -> Generation:
        generation = Generation(asyncio.get_running_loop(), messages, params, priority,
                                cache_key)
        self.prompts.append(list(messages))
        self.priorities.append(priority)
        task = asyncio.create_task(self._run(generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return generation

    async def _run(self, generation: Generation) -> None:
        words = self.script(generation.messages).split(" ")
        sent: list[str] = []
        try:
            for index, word in enumerate(words):
                if generation.cancelled:
                    generation._finish(GenerationResult("".join(sent), "cancelled",
                                                        completion_tokens=len(sent)))
                    return
                piece = word if index == 0 else f" {word}"
                sent.append(piece)
                generation._emit(piece)
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            generation._finish(GenerationResult("".join(sent), "cancelled"))
            raise
        generation._finish(GenerationResult("".join(sent), "stop", prompt_tokens=10,
                                            completion_tokens=len(sent)))

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(4 + len(m.content.split()) for m in messages)

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])

    def queue_position(self, generation: Generation) -> int:
        return 0

    @property
    def queue_depth(self) -> int:
        return 0

    @property
    def tokens_per_second(self) -> float | None:
        return 42.0
