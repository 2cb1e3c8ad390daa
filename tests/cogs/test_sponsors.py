"""Sponsored replies on Discord: off until admins enable them, the embed and its buttons,
charged once delivered, clicks counted once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import discord
import discord.ext.test as dpytest

from bot.discord_app import CausetteBot
from bot.money.ads import CampaignSpec
from cogs.sponsors import VISIT_ID, WHY_ID
from tests.support.discord_flows import click, current, slash

MANAGE = discord.Permissions(manage_guild=True)


def pasta() -> CampaignSpec:
    return CampaignSpec(advertiser="Pasta Bella", headline="Fresh pasta, delivered",
                        body="At your door.", url="https://pasta.example/order",
                        keywords=["pasta"], languages=["en"], cpm=Decimal("5"),
                        budget=Decimal("10"), start=date(2026, 1, 1), end=date(2030, 1, 1))


def drain() -> list[discord.Message]:
    messages = []
    while not dpytest.verify().message().nothing():
        messages.append(dpytest.get_message())
    return messages


async def test_ads_only_after_enable_then_embed_buttons_and_click(bot: CausetteBot) -> None:
    await bot.runtime.assistant.ads.add([pasta()], actor="op")
    config = dpytest.get_config()
    channel, admin, member = config.channels[0], config.members[0], config.members[1]
    await dpytest.message(f"<@{bot.user.id}> How do I cook pasta?", channel, member)
    assert [m.embeds for m in drain()] == [[]]  # the answer, no ad: the server never chose

    denied = await slash(bot, member, channel, "enable", group="sponsors")
    assert "Manage Server" in denied.ephemeral_texts()[0]
    await slash(bot, admin, channel, "enable", group="sponsors", permissions=MANAGE)
    await bot.runtime.assistant.reset("discord", str(member.id),
                                      f"guild:{channel.guild.id}:channel:{channel.id}")
    await dpytest.message(f"<@{bot.user.id}> How do I cook pasta again?", channel, member)
    answer, ad = drain()
    assert not answer.embeds and "pasta" in (await current(answer)).content
    embed = ad.embeds[0]
    assert embed.title == "Sponsored" and embed.author.name == "Pasta Bella"
    assert "Pasta Bella" not in (await current(answer)).content  # never inside the answer
    [report] = await bot.runtime.assistant.ads.report()
    assert report.impressions == 1 and report.campaign.spent_micros == 5_000

    why = await click(bot, member, ad, WHY_ID)
    assert "Pasta Bella paid for it" in why.ephemeral_texts()[0]
    assert '"pasta"' in why.ephemeral_texts()[0]
    visit = await click(bot, member, ad, VISIT_ID)
    assert "https://pasta.example/order" in visit.ephemeral_texts()[0]
    await click(bot, member, ad, VISIT_ID)
    [report] = await bot.runtime.assistant.ads.report()
    assert report.clicks == 1  # counted once per impression


async def test_premium_members_never_see_ads(bot: CausetteBot) -> None:
    await bot.runtime.assistant.ads.add([pasta()], actor="op")
    config = dpytest.get_config()
    channel, member = config.channels[0], config.members[2]
    await bot.runtime.store.set_guild_ads(str(channel.guild.id), True, "test")
    await bot.runtime.assistant.tiers.grant("user", f"discord:{member.id}", "plus", by="op")
    await dpytest.message(f"<@{bot.user.id}> How do I cook pasta?", channel, member)
    assert [m.embeds for m in drain()] == [[]]


async def test_why_this_ad_names_the_memory_it_matched_to_its_user_only(
        bot: CausetteBot) -> None:
    await bot.runtime.assistant.ads.add([pasta()], actor="op")
    config = dpytest.get_config()
    channel, member, other = config.channels[0], config.members[1], config.members[2]
    await bot.runtime.store.set_guild_ads(str(channel.guild.id), True, "test")
    calls = await slash(bot, member, channel, "personalize",
                        [{"name": "choice", "type": 3, "value": "on"}], group="ads")
    assert "recent conversation" in calls.ephemeral_texts()[0]
    user = await bot.runtime.store.ensure_user("discord", str(member.id))
    assert await bot.runtime.store.personalize(user)
    await bot.runtime.store.add_memory(user, "I love fresh pasta", "explicit", "test", 50)
    # Nothing in the message matches: only the saved memory does.
    await dpytest.message(f"<@{bot.user.id}> What should I make tonight?", channel, member)
    _answer, ad = drain()
    assert ad.embeds[0].author.name == "Pasta Bella"
    why = (await click(bot, member, ad, WHY_ID)).ephemeral_texts()[0]
    assert 'your saved memory "I love fresh pasta"' in why
    assert "you turned personalisation on" in why and "free tier" in why
    # Another member pressing the same button learns who paid, nothing of the member.
    theirs = (await click(bot, other, ad, WHY_ID)).ephemeral_texts()[0]
    assert "Pasta Bella" in theirs and "shown to another member" in theirs
    assert "fresh pasta" not in theirs and "personalisation" not in theirs


async def test_report_shows_this_servers_campaigns_only(bot: CausetteBot) -> None:
    config = dpytest.get_config()
    channel, admin = config.channels[0], config.members[0]
    ads = bot.runtime.assistant.ads
    guild = str(channel.guild.id)
    [everywhere] = await ads.add([pasta()], actor="op")  # the operator's, in every server
    [ours] = await ads.add([pasta().model_copy(update={"advertiser": "Our Bakery"})],
                           actor="discord:1", guild_id=guild)
    [theirs] = await ads.add([pasta().model_copy(update={"advertiser": "Elsewhere Inc"})],
                             actor="discord:2", guild_id="999")
    report = await slash(bot, admin, channel, "report", group="sponsors", permissions=MANAGE)
    [text] = report.texts()
    assert f"#{ours} **Our Bakery**" in text
    assert f"#{everywhere} " not in text and "Pasta Bella" not in text
    assert f"#{theirs} " not in text and "Elsewhere" not in text
    assert "0 impressions, 0 clicks, CTR 0.0%, spent 0.00 EUR, remaining 10.00 EUR" in text
