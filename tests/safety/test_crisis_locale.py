"""Discord remembers each user's locale from their last interaction (messages carry none)
and answers their mentions in it: language and the country's crisis lines (issue 24)."""

from __future__ import annotations

import discord.ext.test as dpytest

from bot.discord_app import CausetteBot
from tests.support.discord_flows import current, slash


async def test_a_mention_uses_the_locale_of_the_users_last_interaction(
        bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[1]
    assert bot.message_locale(member.id, channel.guild) == ("en", None)  # the server's
    await slash(bot, member, channel, "history", locale="en-GB")
    await slash(bot, config.members[0], channel, "history", locale="fr")
    assert bot.message_locale(config.members[0].id, channel.guild) == ("fr", None)
    while not dpytest.verify().message().nothing():
        dpytest.get_message()
    await dpytest.message(f"<@{bot.user.id}> I want to kill myself", channel, member)
    answer = await current(dpytest.get_message())
    lines = answer.content.splitlines()
    samaritans = next(i for i, line in enumerate(lines) if "Samaritans" in line)
    assert samaritans < next(i for i, line in enumerate(lines) if "988" in line)
