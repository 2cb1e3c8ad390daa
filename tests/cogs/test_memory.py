"""Memory on Discord: the slash commands, the list's Forget buttons, temporary chat,
and the Undo button of an automatic save (dpytest, fake engine)."""

from __future__ import annotations

import asyncio

import discord.ext.test as dpytest
import pytest
from discord.ext.test import factories

from bot.discord_app import CausetteBot
from tests.support.discord_flows import click, slash
from tests.support.fakes import FakeEngine


async def press(bot: CausetteBot, member: object, message: object, custom_id: str) -> object:
    """`click`, then wait for the dynamic item's own task (click waits for views only)."""
    adapter = await click(bot, member, message, custom_id)  # type: ignore[arg-type]
    for task in asyncio.all_tasks():
        if task.get_name().startswith("discord-ui-dynamic-item") and not task.done():
            await task
            task.result()  # a failing button fails the test
    return adapter


def fact(value: str) -> list[dict]:
    return [{"name": "fact", "type": 3, "value": value}]


async def test_memory_commands_and_forget_buttons(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[0]
    store = bot.runtime.store
    user = await store.ensure_user("discord", str(member.id))
    added = await slash(bot, member, channel, "add", fact("I am vegetarian"), group="memory")
    assert added.ephemeral_texts() == ["Saved to memory: I am vegetarian"]
    await slash(bot, member, channel, "add", fact("I live in Lyon"), group="memory")
    empty = await slash(bot, member, channel, "add", fact("   "), group="memory")
    assert "nothing to remember" in empty.ephemeral_texts()[0]

    listed = await slash(bot, member, channel, "list", group="memory")
    body = listed.calls[-1][2]["data"]
    assert body["flags"] & 64 and "1. I am vegetarian" in body["content"]
    ids = [m.id for m in await store.memories(user)]
    buttons = [c for row in body["components"] for c in row["components"]]
    assert [b["custom_id"] for b in buttons] == [
        f"memory:forget:{member.id}:{i}" for i in ids]

    forgot = await slash(bot, member, channel, "forget",
                         [{"name": "number", "type": 4, "value": 1}], group="memory")
    assert forgot.ephemeral_texts() == ["Forgotten."]
    assert [m.fact for m in await store.memories(user)] == ["I live in Lyon"]
    await slash(bot, member, channel, "off", group="memory")
    assert not (await store.memory_settings(user)).enabled
    await slash(bot, member, channel, "on", group="memory")
    cleared = await slash(bot, member, channel, "clear", group="memory")
    assert "Forgot all 1" in cleared.ephemeral_texts()[0]
    assert await store.memories(user) == []


async def test_temporary_chat_on_discord(bot: CausetteBot, fake_engine: FakeEngine) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[0]
    on = await slash(bot, member, channel, "temporary",
                     [{"name": "choice", "type": 3, "value": "on"}])
    assert "Temporary chat is on" in on.ephemeral_texts()[0]
    await dpytest.message(f"<@{bot.user.id}> my secret plan", channel, member)
    answer = dpytest.get_message()
    assert "not saved" in answer.content
    exported = await bot.runtime.store.export_user(f"discord:{member.id}")
    assert exported["conversations"] == []


async def test_undo_button_of_an_automatic_save(bot: CausetteBot, fake_engine: FakeEngine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # dpytest's message dicts carry no components; dynamic buttons rebuild their view
    # from them, as Discord delivers them.
    bot.runtime.assistant.settings.memory_auto = True
    config = dpytest.get_config()
    channel, member, other = config.channels[0], config.members[0], config.members[1]
    fake_engine.script = lambda messages: (
        "FACT: I live in Lyon" if "durable personal fact" in messages[0].content
        else "Nice!")
    await dpytest.message(f"<@{bot.user.id}> I live in Lyon", channel, member)
    dpytest.get_message()  # the answer
    saved = dpytest.get_message()
    assert saved.content == "Saved to memory: I live in Lyon"
    user = await bot.runtime.store.ensure_user("discord", str(member.id))
    [memory] = await bot.runtime.store.memories(user)
    custom_id = f"memory:forget:{member.id}:{memory.id}"
    # dpytest's message dicts carry no components; dynamic buttons find themselves in
    # the message's components, as Discord delivers them.
    plain = factories.dict_from_message
    button = {"type": 2, "style": 2, "label": "Undo", "custom_id": custom_id}
    monkeypatch.setattr(factories, "dict_from_message", lambda message, *a: {
        **plain(message, *a), "components": [{"type": 1, "components": [button]}]})
    await press(bot, other, saved, custom_id)  # someone else's press forgets nothing
    assert await bot.runtime.store.memories(user) == [memory]
    await press(bot, member, saved, custom_id)
    assert await bot.runtime.store.memories(user) == []
