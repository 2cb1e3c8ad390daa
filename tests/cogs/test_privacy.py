"""Privacy on Discord, and answers that can never ping anyone."""

from __future__ import annotations

import discord
import discord.ext.test as dpytest

from bot.discord_app import CausetteBot
from tests.support.discord_flows import slash
from tests.support.fakes import FakeEngine


async def test_discord_privacy_and_mentions_never_ping(bot: CausetteBot,
                                                       sent_payloads: list[dict],
                                                       fake_engine: FakeEngine) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[0]
    fake_engine.script = lambda messages: "@everyone @here <@&1> look!"
    await dpytest.message(f"<@{bot.user.id}> hi", channel, member)
    assert sent_payloads[0]["allowed_mentions"] == {"parse": [], "replied_user": True}
    about = await slash(bot, member, channel, "about", group="privacy")
    assert "What Causette stores" in about.ephemeral_texts()[0]
    forget = await slash(bot, member, channel, "forget", group="privacy")
    body = forget.calls[-1][2]["data"]
    assert body["flags"] & 64 and "Sure?" in body["content"]
    assert len(body["components"][0]["components"]) == 2
    stats = await slash(bot, member, channel, "stats",
                        permissions=discord.Permissions(manage_guild=True))
    assert "messages today" in stats.ephemeral_texts()[0]
