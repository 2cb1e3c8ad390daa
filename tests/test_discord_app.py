"""The Discord bot's life cycle: build without login, clear start errors, clean close."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp
import discord
import discord.ext.test as dpytest

from bot.config import Settings
from bot.discord_app import build_bot, explain_start_error
from tests.cogs.conftest import dpytest_configure


def test_start_errors_say_how_to_fix_them() -> None:
    bad_token = explain_start_error(discord.LoginFailure("Improper token has been passed."))
    assert bad_token is not None and "Reset Token" in str(bad_token)
    intent = explain_start_error(discord.PrivilegedIntentsRequired(None))
    assert intent is not None and "Message Content Intent" in str(intent)
    offline = explain_start_error(aiohttp.ClientConnectionError("no route"))
    assert offline is not None and "Could not reach Discord" in str(offline)
    assert explain_start_error(ValueError("other")) is None


async def test_build_loads_every_cog_without_logging_in(settings: Settings) -> None:
    bot = await build_bot(settings)
    try:
        assert {"Chat", "Admin"} <= set(bot.cogs)
        assert bot.intents.message_content
        assert not bot.is_ready()
        names = {c.qualified_name for c in bot.tree.walk_commands()}
        assert {"ask", "reset", "history", "model", "help", "cancel", "config show"} <= names
    finally:
        await bot.close()


async def test_close_stores_in_flight_answers_and_closes_the_database(
        settings: Settings) -> None:
    long_answers = settings.model_copy(update={"max_reply_tokens": 400,
                                               "discord_edit_interval": 0.2})
    bot = await build_bot(long_answers)  # opens the real model and database itself
    await bot._async_setup_hook()
    dpytest_configure(bot)
    config = dpytest.get_config()
    flow = asyncio.create_task(dpytest.message(
        f"<@{bot.user.id}> Write a very long story about the sea.",
        config.channels[0], config.members[0]))
    for _ in range(1000):
        await asyncio.sleep(0.01)
        if not dpytest.verify().message().nothing():
            break
    bot.ws = None  # type: ignore[assignment]  # dpytest's stand-in gateway cannot close
    await bot.close()  # what SIGTERM does: stop, cancel in-flight, store, close the DB
    await asyncio.wait_for(flow, 30)
    assert not bot.accepting
    db = sqlite3.connect(long_answers.database_path)
    rows = db.execute("SELECT role, status FROM messages ORDER BY id").fetchall()
    assert rows == [("user", "complete"), ("assistant", "cancelled")]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    await dpytest.empty_queue()


async def test_sharding_settings_build_a_sharded_bot(settings: Settings) -> None:
    from bot.discord_app import CausetteShardedBot

    sharded = settings.model_copy(update={"shard_count": 4, "shard_ids": [0, 2]})
    bot = await build_bot(sharded, open_core=False)
    try:
        assert isinstance(bot, CausetteShardedBot) and isinstance(bot, discord.AutoShardedClient)
        assert bot.shard_count == 4 and bot.shard_ids == [0, 2]
        assert {"Chat", "Admin", "Premium", "Sponsors", "Privacy"} <= set(bot.cogs)
    finally:
        await bot._async_setup_hook()  # what logging in would have prepared
        await bot.close()


def test_shard_settings_are_checked(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from bot.config import SettingsError, load_settings

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="SHARD_IDS needs SHARD_COUNT"):
        load_settings(shard_ids=[1])
    with pytest.raises(SettingsError, match="between 0 and SHARD_COUNT"):
        load_settings(shard_count=2, shard_ids=[2])
