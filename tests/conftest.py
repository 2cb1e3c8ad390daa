"""Shared fixtures: the real default model, real SQLite files in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.config import DEFAULT_MODEL_PATH, Settings, load_settings
from bot.engine import LlamaEngine
from bot.runtime import Runtime, open_runtime


class Clock:
    """An injectable clock for the store: tests move time by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The bundled default model; test.sh fetches it before pytest starts."""
    if not DEFAULT_MODEL_PATH.exists():
        pytest.fail(f"{DEFAULT_MODEL_PATH} is missing: run `causette model fetch` first")
    return DEFAULT_MODEL_PATH


@pytest.fixture
def settings(tmp_path: Path, model_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Deterministic settings on the real model and a fresh database file."""
    monkeypatch.chdir(tmp_path)  # keeps any developer .env out of the tests
    return load_settings(
        model_path=model_path,
        database_path=tmp_path / "causette.db",
        n_ctx=2048,
        n_threads=2,
        max_reply_tokens=48,
        temperature=0.0,
        seed=7,
        queue_max=8,
        rate_limit_messages=1000,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[LlamaEngine]:
    """The real llama.cpp engine on the default model."""
    eng = LlamaEngine(settings)
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Store + real engine + assistant, as the surfaces get them."""
    async with open_runtime(settings) as rt:
        yield rt
