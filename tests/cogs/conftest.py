"""A discord.py bot driven by dpytest, on a fake or the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend

from bot.config import Settings
from bot.discord_app import CausetteBot, build_bot
from bot.pipeline.runtime import open_runtime
from tests.support.fakes import FakeEngine


def dpytest_configure(bot: CausetteBot, members: int = 1) -> None:
    """dpytest resolves mentions through the member cache, which production leaves off
    (the members intent is privileged and not needed); tests turn the cache on."""
    bot._connection._intents.members = True
    bot._connection.member_cache_flags = discord.MemberCacheFlags.from_intents(
        bot._connection._intents)
    dpytest.configure(bot, members=members)
    # dpytest's state never logs in, so it has no loop for typing indicators.
    backend.get_state().loop = asyncio.get_running_loop()
    # ...and its state is new, so it must be told where slash commands go.
    backend.get_state()._command_tree = bot.tree


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def bot_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"discord_edit_interval": 0.2})


@pytest.fixture
async def bot(bot_settings: Settings, fake_engine: FakeEngine) -> AsyncIterator[CausetteBot]:
    async with open_runtime(bot_settings, engine=fake_engine) as runtime:
        causette = await build_bot(bot_settings, runtime)
        await causette._async_setup_hook()
        dpytest_configure(causette, members=3)
        try:
            yield causette
        finally:
            await dpytest.empty_queue()
            await causette.get_cog("Chat").shutdown()  # type: ignore[union-attr]


@pytest.fixture
async def real_bot(bot_settings: Settings) -> AsyncIterator[CausetteBot]:
    """The bot on the real model (for the flows every feature also tests through it)."""
    async with open_runtime(bot_settings) as runtime:
        causette = await build_bot(bot_settings, runtime)
        await causette._async_setup_hook()
        dpytest_configure(causette)
        try:
            yield causette
        finally:
            await dpytest.empty_queue()


@pytest.fixture
def sent_payloads(bot: CausetteBot, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The JSON payloads of messages the bot sends (dpytest keeps only their text)."""
    http = backend.get_state().http
    original = http.send_message
    payloads: list[dict] = []

    async def recording(channel_id: int, *, params: object) -> object:
        channel = bot.get_channel(channel_id)  # noqa: F841 - dpytest reads its caller's locals
        payloads.append(dict(params.payload or {}))  # type: ignore[attr-defined]
        return await original(channel_id, params=params)

    monkeypatch.setattr(http, "send_message", recording)
    return payloads
