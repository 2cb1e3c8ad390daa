"""Privacy on Discord: /privacy about|export|forget, and /stats for admins."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import send_ephemeral
from bot.locales import pick_locale, t
from bot.money.ads import money

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot


class ForgetView(discord.ui.View):
    """Confirm before deleting: only the person who asked can press it."""

    def __init__(self, bot: CausetteBot, user_id: int, locale: str) -> None:
        super().__init__(timeout=120)
        self.bot, self.user_id, self.locale = bot, user_id, locale
        self.confirm.label = t("btn_delete", locale)
        self.cancel.label = t("btn_keep", locale)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.user_id

    @discord.ui.button(label="Delete everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction[Any],
                      _: discord.ui.Button[Any]) -> None:
        """Delete all of it."""
        counts = await self.bot.runtime.assistant.privacy.forget(f"discord:{self.user_id}")
        self.stop()
        await interaction.response.edit_message(
            content=t("forget_done", self.locale, messages=counts.get("messages", 0)), view=None)

    @discord.ui.button(label="Keep my data", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[Any],
                     _: discord.ui.Button[Any]) -> None:
        """Change nothing."""
        self.stop()
        await interaction.response.edit_message(content=t("forget_cancelled", self.locale),
                                                view=None)


class PrivacyCog(commands.Cog, name="Privacy"):
    """Users' data rights; operators' figures."""

    privacy = app_commands.Group(name="privacy", description="What Causette stores about you")

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot

    @privacy.command(name="about", description="What is stored, why, and for how long")
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        """Plain words about the data."""
        await send_ephemeral(interaction, self.bot.runtime.assistant.privacy.explain(
            pick_locale(interaction.locale, interaction.guild_locale)))

    @privacy.command(name="export", description="Everything stored about you, as a JSON file")
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        """The user's data as a file only they see."""
        data = await self.bot.runtime.assistant.privacy.export(f"discord:{interaction.user.id}")
        await send_ephemeral(interaction, t("export_ready", pick_locale(interaction.locale)),
                             file=discord.File(io.BytesIO(data), filename="causette-data.json"))

    @privacy.command(name="forget", description="Delete everything stored about you")
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        """Ask for confirmation, then delete."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        await send_ephemeral(interaction, t("forget_confirm", locale),
                             view=ForgetView(self.bot, interaction.user.id, locale))

    @app_commands.command(name="stats", description="Usage, answers, tokens and ads today")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def stats(self, interaction: discord.Interaction[Any]) -> None:
        """Operator figures, for admins."""
        store = self.bot.runtime.store
        figures = await store.stats(store.now().date().isoformat())
        engine = self.bot.runtime.engine
        tps = engine.tokens_per_second
        lines = [f"**{k.replace('_', ' ')}**: {v}" for k, v in figures.items()
                 if k != "ad_spend_today_micros"]
        lines.append(f"**ad spend today**: {money(int(str(figures['ad_spend_today_micros'])))} "
                     f"{self.bot.settings.currency}")
        lines.append(f"**speed**: {tps:.0f} tokens/s" if tps else "**speed**: —")
        lines.append(f"**queue**: {engine.queue_depth}")
        await send_ephemeral(interaction, "\n".join(lines))


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(PrivacyCog(bot))
