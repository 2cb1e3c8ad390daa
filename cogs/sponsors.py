"""Sponsored replies on Discord: the ad embed and its buttons, /sponsors for admins,
/ads personalize for users."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import send_ephemeral
from bot.locales import pick_locale, t
from bot.money.ads import AdOffer
from bot.money.campaigns import CampaignFileError, money, parse_campaigns
from bot.web.charts import render_chart

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

log = logging.getLogger(__name__)

WHY_ID = "causette:ad:why"
VISIT_ID = "causette:ad:visit"
UPGRADE_ID = "causette:ad:upgrade"


def ad_embed(offer: AdOffer, locale: str) -> discord.Embed:
    """The sponsored block: clearly labelled, apart from the answer, no link in the title
    (the Visit button records the click first)."""
    campaign = offer.campaign
    embed = discord.Embed(title=t("sponsored", locale), colour=discord.Colour.light_grey(),
                          description=f"**{campaign.headline}**\n{campaign.body}".strip())
    embed.set_author(name=campaign.advertiser)
    embed.set_footer(text=t("sponsored_footer", locale))
    return embed


class AdButtons(discord.ui.View):
    """Buttons under every ad; persistent (fixed ids), so they work after a restart."""

    def __init__(self, bot: CausetteBot, sku_ids: list[int] | None = None,
                 locale: str = "en") -> None:
        super().__init__(timeout=None)
        self.bot = bot
        self.why.label = t("btn_why", locale)
        self.visit.label = t("btn_visit", locale)
        self.upgrade.label = t("btn_upgrade", locale)
        for sku_id in sku_ids or []:
            self.add_item(discord.ui.Button(style=discord.ButtonStyle.premium, sku_id=sku_id))

    async def _impression(self, interaction: discord.Interaction[Any]) -> tuple[int, str] | None:
        """(impression id, matched words) of the ad pressed; says so when it is gone."""
        found = None
        if interaction.message is not None:
            found = await self.bot.runtime.store.impression_by_delivery(
                str(interaction.message.id))
        if found is None:
            await send_ephemeral(interaction, t("ad_gone", pick_locale(
                interaction.locale, interaction.guild_locale)))
        return found

    @discord.ui.button(label="Why this ad?", style=discord.ButtonStyle.secondary, custom_id=WHY_ID)
    async def why(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        """Who paid, what matched, the tier, how to opt out."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        found = await self._impression(interaction)
        if found is None:
            return
        runtime = self.bot.runtime
        viewer = await runtime.store.ensure_user("discord", str(interaction.user.id))
        # The viewer's memories as ads may see them (nothing without their consent).
        why = await runtime.assistant.ads.why_impression(
            found[0], viewer, await runtime.assistant.memory.for_ads(viewer), locale)
        await send_ephemeral(interaction, why or t("ad_gone", locale))

    @discord.ui.button(label="Visit", style=discord.ButtonStyle.primary, custom_id=VISIT_ID)
    async def visit(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        """Record the click (once per impression), then give the link."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        found = await self._impression(interaction)
        if found is None:
            return
        _counted, url = await self.bot.runtime.assistant.ads.click(found[0])
        await send_ephemeral(interaction, t("ad_visit", locale, url=url))

    @discord.ui.button(label="Remove ads", style=discord.ButtonStyle.success, custom_id=UPGRADE_ID)
    async def upgrade(self, interaction: discord.Interaction[Any],
                      _: discord.ui.Button[Any]) -> None:
        """How to get a tier without ads."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        await send_ephemeral(interaction, t("ad_upgrade", locale))


class SponsorsCog(commands.Cog, name="Sponsors"):
    """Admins' control of sponsored replies in their server; users' consent."""

    sponsors = app_commands.Group(
        name="sponsors", description="Sponsored replies in this server",
        guild_only=True, default_permissions=discord.Permissions(manage_guild=True))
    ads = app_commands.Group(name="ads", description="Your sponsored-reply preferences")

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_view(AdButtons(self.bot))

    async def show_ad(self, offer: AdOffer, channel: discord.abc.Messageable,
                      locale: str) -> int | None:
        """Send the ad under an answer; charge it only once Discord accepted it."""
        skus = [int(s) for s in self.bot.settings.sku_tiers]
        try:
            message = await channel.send(embed=ad_embed(offer, locale),
                                         view=AdButtons(self.bot, skus, locale), silent=True,
                                         allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.info("ad not delivered (%s): not charged", exc.status)
            return None
        impression = await self.bot.runtime.assistant.ads.delivered(offer, str(message.id))
        if impression is None:  # a cap or the budget refused it since: not shown for free
            try:
                await message.delete()
            except discord.HTTPException as exc:
                log.info("uncharged ad not deleted (%s)", exc.status)
        return impression

    @sponsors.command(name="enable", description="Show sponsored replies to free users here")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def enable(self, interaction: discord.Interaction[Any]) -> None:
        """Turn ads on in this server."""
        await self._switch(interaction, True)

    @sponsors.command(name="disable", description="Never show sponsored replies here")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def disable(self, interaction: discord.Interaction[Any]) -> None:
        """Turn ads off in this server."""
        await self._switch(interaction, False)

    async def _switch(self, interaction: discord.Interaction[Any], on: bool) -> None:
        assert interaction.guild is not None
        await self.bot.runtime.store.set_guild_ads(str(interaction.guild.id), on,
                                                   f"discord:{interaction.user.id}")
        await send_ephemeral(interaction, t("sponsors_on" if on else "sponsors_off",
                                            pick_locale(interaction.locale)))

    @sponsors.command(name="add", description="Add this server's campaigns from a TOML file")
    @app_commands.describe(file="A .toml file of [[campaign]] tables")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction[Any], file: discord.Attachment) -> None:
        """Server-scoped campaigns: they only ever show in this server."""
        assert interaction.guild is not None
        locale = pick_locale(interaction.locale)
        if file.size > 100_000:
            await send_ephemeral(interaction, t("attachment_too_big", locale, name=file.filename,
                                                limit=100_000))
            return
        try:
            text = (await file.read()).decode("utf-8")
            specs = parse_campaigns(text, file.filename)
        except (UnicodeDecodeError, CampaignFileError) as exc:
            await send_ephemeral(interaction, t("error", locale, error=str(exc)))
            return
        ids = await self.bot.runtime.assistant.ads.add(
            specs, actor=f"discord:{interaction.user.id}", guild_id=str(interaction.guild.id))
        await send_ephemeral(interaction, t("campaigns_added", locale,
                                            ids=", ".join(map(str, ids))))

    async def _own_campaign(self, interaction: discord.Interaction[Any], campaign_id: int) -> bool:
        campaign = await self.bot.runtime.store.campaign(campaign_id)
        return (campaign is not None and interaction.guild is not None
                and campaign.guild_id == str(interaction.guild.id))

    @sponsors.command(name="pause", description="Pause one of this server's campaigns")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def pause(self, interaction: discord.Interaction[Any], campaign: int) -> None:
        """Pause a campaign this server added."""
        await self._change(interaction, campaign, "pause")

    @sponsors.command(name="resume", description="Resume one of this server's campaigns")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def resume(self, interaction: discord.Interaction[Any], campaign: int) -> None:
        """Resume a campaign this server added."""
        await self._change(interaction, campaign, "resume")

    async def _change(self, interaction: discord.Interaction[Any], campaign_id: int,
                      verb: Literal["pause", "resume"]) -> None:
        locale = pick_locale(interaction.locale)
        ads = self.bot.runtime.assistant.ads
        change = ads.pause if verb == "pause" else ads.resume
        done = await self._own_campaign(interaction, campaign_id) and await change(
            campaign_id, f"discord:{interaction.user.id}")
        await send_ephemeral(interaction, t("campaign_changed" if done else "campaign_unchanged",
                                            locale, id=campaign_id))

    @sponsors.command(name="report",
                      description="This server's campaigns: impressions, clicks, spend, chart")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def report(self, interaction: discord.Interaction[Any]) -> None:
        """Reports of this server's own campaigns, with a PNG chart. The operator's
        campaigns (shown in every server) are not its to read: their spend and click rate
        belong to the operator and their advertiser."""
        assert interaction.guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = str(interaction.guild.id)
        reports = [r for r in await self.bot.runtime.assistant.ads.report()
                   if r.campaign.guild_id == guild]
        currency = self.bot.settings.currency
        lines = [f"#{r.campaign.id} **{r.campaign.advertiser}** ({r.campaign.status}): "
                 f"{r.impressions} impressions, {r.clicks} clicks, CTR {r.ctr:.1%}, spent "
                 f"{money(r.campaign.spent_micros)} {currency}, remaining "
                 f"{money(r.campaign.budget_micros - r.campaign.spent_micros)} {currency}"
                 for r in reports] or [t("no_grants", pick_locale(interaction.locale))]
        chart = await asyncio.to_thread(render_chart, reports, currency)
        await interaction.followup.send("\n".join(lines)[:2000], ephemeral=True,
                                        file=discord.File(fp=_bytes(chart), filename="ads.png"))

    @ads.command(name="personalize",
                 description="Let ads match your conversation, not just your message")
    async def personalize(self, interaction: discord.Interaction[Any],
                          choice: Literal["on", "off"]) -> None:
        """Consent to history-based matching (off by default)."""
        store = self.bot.runtime.store
        user = await store.ensure_user("discord", str(interaction.user.id))
        await store.set_personalize(user, choice == "on")
        await send_ephemeral(interaction, t("personalize_" + choice,
                                            pick_locale(interaction.locale)))


def _bytes(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(SponsorsCog(bot))
