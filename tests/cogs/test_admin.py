"""/config through real Interaction payloads: permissions, rules, channel prompts."""

from __future__ import annotations

import discord
import discord.ext.test as dpytest

from bot.discord_app import CausetteBot
from tests.support.discord_flows import slash

MANAGE = discord.Permissions(manage_guild=True)


def channel_resolved(channel: discord.TextChannel) -> dict:
    return {"channels": {str(channel.id): {"id": str(channel.id), "type": 0,
                                           "name": channel.name, "permissions": "0",
                                           "guild_id": str(channel.guild.id)}}}


async def test_block_a_channel_then_clear(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, admin = config.channels[0], config.members[0]
    options = [{"name": "target", "type": 7, "value": str(channel.id)},
               {"name": "mode", "type": 3, "value": "block"}]
    calls = await slash(bot, admin, channel, "channel", options, group="config",
                        permissions=MANAGE, resolved=channel_resolved(channel))
    assert "Saved" in calls.ephemeral_texts()[0]
    rules = await bot.runtime.store.guild_rules(str(channel.guild.id))
    assert [(r.kind, r.target_id, r.mode) for r in rules] == [
        ("channel", str(channel.id), "block")]
    await dpytest.message(f"<@{bot.user.id}> hello", channel, config.members[1])
    assert dpytest.verify().message().nothing()
    options[1]["value"] = "clear"
    await slash(bot, admin, channel, "channel", options, group="config", permissions=MANAGE,
                resolved=channel_resolved(channel))
    assert await bot.runtime.store.guild_rules(str(channel.guild.id)) == []


async def test_non_admin_cannot_change_rules(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[1]
    options = [{"name": "target", "type": 7, "value": str(channel.id)},
               {"name": "mode", "type": 3, "value": "block"}]
    calls = await slash(bot, member, channel, "channel", options, group="config",
                        resolved=channel_resolved(channel))
    assert "Manage Server" in calls.ephemeral_texts()[0]
    assert await bot.runtime.store.guild_rules(str(channel.guild.id)) == []


async def test_channel_prompt_set_show_and_limit(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, admin = config.channels[0], config.members[0]
    target = {"name": "target", "type": 7, "value": str(channel.id)}
    await slash(bot, admin, channel, "channel-prompt",
                [target, {"name": "text", "type": 3, "value": "Speak French."}],
                group="config", permissions=MANAGE, resolved=channel_resolved(channel))
    prompts = await bot.runtime.store.channel_prompts(str(channel.guild.id))
    assert prompts == {str(channel.id): "Speak French."}
    shown = await slash(bot, admin, channel, "show", group="config", permissions=MANAGE)
    assert "Speak French." in shown.ephemeral_texts()[0]
    too_long = await slash(bot, admin, channel, "channel-prompt",
                           [target, {"name": "text", "type": 3, "value": "x" * 5000}],
                           group="config", permissions=MANAGE, resolved=channel_resolved(channel))
    assert "too long" in too_long.ephemeral_texts()[0]


async def test_moderation_choices_stay_within_the_floor(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, admin = config.channels[0], config.members[0]
    guild = str(channel.guild.id)

    async def choose(category: str, mode: str) -> str:
        options = [{"name": "category", "type": 3, "value": category},
                   {"name": "mode", "type": 3, "value": mode}]
        calls = await slash(bot, admin, channel, "moderation", options, group="config",
                            permissions=MANAGE)
        return calls.ephemeral_texts()[0]

    saved = await choose("sexual", "refuse")
    assert "sexual" in saved and "sexual/minors" in saved  # the floor is always listed
    # The default (violence, harassment, illicit, hate) plus the server's choice.
    assert await bot.runtime.store.guild_moderation(guild) == ["harassment", "hate",
                                                               "illicit", "sexual",
                                                               "violence"]
    refused = await choose("sexual/minors", "allow")
    assert "always refused" in refused
    await choose("violence", "allow")
    assert await bot.runtime.store.guild_moderation(guild) == ["harassment", "hate",
                                                               "illicit", "sexual"]
    await choose("violence", "default")
    assert await bot.runtime.store.guild_moderation(guild) is None
    # A member without Manage Server cannot change it.
    member = config.members[1]
    calls = await slash(bot, member, channel, "moderation",
                        [{"name": "category", "type": 3, "value": "sexual"},
                         {"name": "mode", "type": 3, "value": "refuse"}], group="config")
    assert "Manage Server" in calls.ephemeral_texts()[0]
    assert await bot.runtime.store.guild_moderation(guild) is None
