"""The premium cog: the gate, grants with permissions, status and purchase buttons,
and entitlement events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import discord.ext.test as dpytest

from bot.discord_app import CausetteBot
from bot.money.tiers import Subject
from tests.support.discord_flows import slash

MANAGE = discord.Permissions(manage_guild=True)


def member_resolved(member: discord.Member) -> dict:
    user = {"id": str(member.id), "username": member.name, "discriminator": "0001",
            "avatar": None}
    return {"users": {str(member.id): user},
            "members": {str(member.id): {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00",
                                         "deaf": False, "mute": False, "flags": 0}}}


async def test_free_user_is_told_what_a_premium_command_does(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    calls = await slash(bot, config.members[0], config.channels[0], "translate",
                        [{"name": "text", "type": 3, "value": "hello"},
                         {"name": "language", "type": 3, "value": "French"}])
    text = calls.ephemeral_texts()[0]
    assert "/translate" in text and "premium command" in text and "pro" in text


async def test_admin_grants_a_member_who_then_gets_the_command(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, admin, member = config.channels[0], config.members[0], config.members[1]
    calls = await slash(bot, admin, channel, "grant",
                        [{"name": "tier", "type": 3, "value": "plus"},
                         {"name": "member", "type": 6, "value": str(member.id)},
                         {"name": "days", "type": 4, "value": 30}],
                        group="premium", permissions=MANAGE, resolved=member_resolved(member))
    assert "plus" in calls.ephemeral_texts()[0]
    subject = Subject(f"discord:{member.id}", guild_ref=f"discord:{channel.guild.id}")
    decision = await bot.runtime.assistant.tiers.resolve(subject)
    assert decision.tier.name == "plus" and decision.until is not None
    persona = await slash(bot, member, channel, "set",
                          [{"name": "text", "type": 3, "value": "a pirate"}], group="persona")
    assert "saved" in persona.ephemeral_texts()[0]
    listed = await slash(bot, admin, channel, "list", group="premium", permissions=MANAGE)
    assert f"<@{member.id}>" in listed.ephemeral_texts()[0]
    audit = await slash(bot, admin, channel, "audit", group="premium", permissions=MANAGE)
    assert "grant" in audit.ephemeral_texts()[0]


async def test_non_admin_cannot_grant(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[1]
    calls = await slash(bot, member, channel, "grant",
                        [{"name": "tier", "type": 3, "value": "pro"},
                         {"name": "member", "type": 6, "value": str(member.id)}],
                        group="premium", resolved=member_resolved(member))
    assert "Manage Server" in calls.ephemeral_texts()[0]
    assert await bot.runtime.store.active_grants() == []


async def test_status_shows_tiers_and_purchase_buttons(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    calls = await slash(bot, config.members[0], config.channels[0], "status", group="premium")
    text = calls.ephemeral_texts()[0]
    assert "**free**" in text and "plus" in text and "admins" in text
    bot.settings = bot.settings.model_copy(update={"sku_tiers": {"1234": "plus"}})
    calls = await slash(bot, config.members[0], config.channels[0], "status", group="premium")
    body = calls.calls[-1][2]["data"]
    buttons = [c for row in body["components"] for c in row["components"]]
    assert buttons == [{"type": 2, "style": 6, "disabled": False, "sku_id": "1234"}]


async def test_entitlement_events_change_the_tier(bot: CausetteBot) -> None:
    bot.settings = bot.settings.model_copy(update={"sku_tiers": {"777": "pro"}})
    bot.runtime.assistant.tiers.settings = bot.settings
    member = dpytest.get_config().members[2]
    now = datetime.now(UTC)
    data = {"id": "555", "sku_id": "777", "application_id": str(bot.user.id),
            "user_id": str(member.id), "type": 8, "deleted": False, "consumed": False,
            "starts_at": (now - timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat()}
    state = bot._connection
    state.parse_entitlement_create(data)
    await dpytest.run_all_events()
    subject = Subject(f"discord:{member.id}")
    assert (await bot.runtime.assistant.tiers.resolve(subject)).tier.name == "pro"
    state.parse_entitlement_update({**data, "ends_at": (now - timedelta(minutes=1)).isoformat()})
    await dpytest.run_all_events()
    assert (await bot.runtime.assistant.tiers.resolve(subject)).tier.name == "free"
    state.parse_entitlement_update(data)
    await dpytest.run_all_events()
    state.parse_entitlement_delete(data)
    await dpytest.run_all_events()
    assert (await bot.runtime.assistant.tiers.resolve(subject)).tier.name == "free"
