"""Reminders on Discord (dpytest): /timezone, /remind confirmed with the exact time,
/reminders list and cancel, "remind me" in a mention, and delivery in the channel
(mentioning the user) and by DM, late ones saying how late."""

from __future__ import annotations

from datetime import timedelta

import discord.ext.test as dpytest

from bot.discord_app import CausetteBot
from tests.support.discord_flows import current, slash
from tests.support.fakes import FakeEngine


def option(name: str, value: object, kind: int = 3) -> list[dict[str, object]]:
    return [{"name": name, "type": kind, "value": value}]


async def test_set_list_cancel_and_deliver(bot: CausetteBot, fake_engine: FakeEngine) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[0]
    store = bot.runtime.store
    cog = bot.get_cog("Reminders")
    await cog.cog_unload()  # type: ignore[union-attr]  # the test delivers, by deliver_now
    zone = await slash(bot, member, channel, "timezone", option("zone", "Europe/Paris"))
    assert zone.ephemeral_texts()[0].startswith("Your time zone is now Europe/Paris")
    set_ = await slash(bot, member, channel, "remind",
                       option("request", "tomorrow at 9 to call the bank"))
    said = set_.ephemeral_texts()[0]
    assert said.startswith("⏰ I'll remind you on ") and said.endswith(
        " 09:00 (Europe/Paris): call the bank")
    await dpytest.message(f"<@{bot.user.id}> remind me in 3 hours to stretch", channel, member)
    confirmation = dpytest.get_message()
    assert (await current(confirmation)).content.endswith(": stretch")
    assert fake_engine.prompts == []  # read by code: the model was never asked
    listed = await slash(bot, member, channel, "list", group="reminders")
    lines = listed.ephemeral_texts()[0].splitlines()
    assert lines[0] == "Your reminders to come:" and len(lines) == 3
    assert lines[1].endswith(": stretch") and lines[2].endswith(": call the bank")
    cancelled = await slash(bot, member, channel, "cancel", option("number", 2, 4),
                            group="reminders")
    assert cancelled.ephemeral_texts()[0] == "Cancelled: call the bank"

    # Make the remaining one (asked in the channel) and a DM one due, late.
    user = await store.ensure_user("discord", str(member.id))
    late = store.now() - timedelta(minutes=30)
    await store.add_reminder(user, "discord", f"dm:{member.id}", "drink water", late,
                             "Europe/Paris", "en", limit=10)
    (stretch,) = [r for r in await store.reminders(user) if r.text == "stretch"]
    assert stretch.target == f"channel:{channel.id}:{member.id}"
    assert await cog.deliver_now() == 1  # type: ignore[union-attr]
    dm = dpytest.get_message()
    assert dm.content == "⏰ Reminder: drink water (late by 30 min)"
    assert await cog.deliver_now() == 0  # type: ignore[union-attr]  # once
    assert [r.text for r in await store.reminders(user)] == ["stretch"]  # not due yet
    await store.add_reminder(user, "discord", f"channel:{channel.id}:{member.id}",
                             "stand-up meeting", store.now(), "Europe/Paris", "en", limit=10)
    assert await cog.deliver_now() == 1  # type: ignore[union-attr]
    posted = dpytest.get_message()
    assert posted.channel.id == channel.id
    assert posted.content == f"<@{member.id}> ⏰ Reminder: stand-up meeting"
