"""WEB_WITH_RUN: `causette run` serves the console beside the bot on the same loop,
listening before the bot starts and closed once it stopped (no Discord needed: the bot
here is a coroutine that uses the console while it "runs")."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from pydantic import SecretStr

from bot.cli.run import with_console
from bot.config import Settings, SettingsError
from bot.web.app import console_beside
from tests.web.conftest import ADMIN_TOKEN


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _beside(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={
        "web_with_run": True, "web_admin_token": SecretStr(ADMIN_TOKEN),
        "web_host": "127.0.0.1", "web_port": _free_port(), **changes})


async def _login_page(settings: Settings) -> int:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{settings.web_port}/login") as response:
        return response.status


async def test_run_serves_the_console_while_the_bot_runs(settings: Settings) -> None:
    settings = _beside(settings)
    seen: list[int] = []

    async def bot() -> int:
        seen.append(await _login_page(settings))
        return 7

    assert await with_console(settings, bot) == 7  # the bot's exit status is run's
    assert seen == [200]
    with pytest.raises(aiohttp.ClientConnectionError):  # stopped with the bot
        await _login_page(settings)


async def test_the_console_stops_when_the_bot_fails(settings: Settings) -> None:
    settings = _beside(settings)

    async def bot() -> int:
        assert await _login_page(settings) == 200
        raise RuntimeError("the bot crashed")

    with pytest.raises(RuntimeError, match="the bot crashed"):
        await with_console(settings, bot)
    with pytest.raises(aiohttp.ClientConnectionError):
        await _login_page(settings)


async def test_without_web_with_run_nothing_listens(settings: Settings) -> None:
    settings = _beside(settings, web_with_run=False)

    async def bot() -> int:
        with pytest.raises(aiohttp.ClientConnectionError):
            await _login_page(settings)
        return 0

    assert await with_console(settings, bot) == 0
    async with console_beside(settings) as runner:
        assert runner is None


async def test_a_console_that_cannot_start_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="needs WEB_ADMIN_TOKEN"):
        async with console_beside(_beside(settings, web_admin_token=None)):
            pass
    taken = _beside(settings)
    async with console_beside(taken):
        with pytest.raises(SettingsError, match=r"cannot listen on 127\.0\.0\.1"):
            async with console_beside(taken):
                pass
