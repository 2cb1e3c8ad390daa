"""Reminders on Discord: /remind, /reminders list|cancel, /timezone, and their delivery
(by DM, or in the channel they were asked in, mentioning the user). "remind me ..." in
a mention or a DM works too (the pipeline answers it by code)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import conversation_key, send_ephemeral
from bot.locales import pick_locale
from bot.pipeline.replies import Inbound
from bot.store import Reminder

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

log = logging.getLogger(__name__)


class RemindersCog(commands.Cog, name="Reminders"):
    """Setting, listing and delivering reminders."""

    reminders = app_commands.Group(name="reminders", description="Your reminders to come")

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot
        self.owner = f"discord:{os.getpid()}"  # who holds a reminder while sending it
        self._task: asyncio.Task[None] | None = None

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once connected, deliver: the ones missed while the bot was down go first."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.bot.runtime.assistant.reminders.run(
                "discord", self.owner, self.send))

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def send(self, reminder: Reminder, text: str) -> None:
        """Deliver one reminder where it was asked for; raises when Discord refuses."""
        kind, _, rest = reminder.target.partition(":")
        if kind == "channel":
            channel_id, _, user = rest.partition(":")
            channel = self.bot.get_channel(int(channel_id))
            if not isinstance(channel, discord.abc.Messageable):
                raise LookupError(f"channel {channel_id} is gone")
            await channel.send(f"<@{user}> {text}",
                               allowed_mentions=discord.AllowedMentions(users=True))
            return
        person = self.bot.get_user(int(rest)) or await self.bot.fetch_user(int(rest))
        await person.send(text)

    async def deliver_now(self) -> int:
        """One delivery round at once (also what the loop does every few seconds)."""
        return await self.bot.runtime.assistant.reminders.deliver_due(
            "discord", self.owner, self.send)

    def _inbound(self, interaction: discord.Interaction[Any], text: str) -> Inbound:
        guild = interaction.guild
        return Inbound("discord", str(interaction.user.id), conversation_key(interaction.channel),
                       text, pick_locale(interaction.locale, interaction.guild_locale),
                       guild_ref=f"discord:{guild.id}" if guild else None)

    @app_commands.command(name="remind", description="Remind you of something at a time")
    @app_commands.describe(request="e.g. 'tomorrow at 9 to call the bank'",
                           private="by DM (default) rather than in this channel")
    async def remind(self, interaction: discord.Interaction[Any], request: str,
                     private: bool = True) -> None:
        """Read the time by code and confirm it exactly."""
        inbound = self._inbound(interaction, f"/remind {request}")
        if private:
            inbound = Inbound("discord", inbound.user, "dm", inbound.text, inbound.locale,
                              guild_ref=inbound.guild_ref)
        said = await self.bot.runtime.assistant.reminders.command(inbound)
        await send_ephemeral(interaction, str(said))

    @reminders.command(name="list", description="Your reminders to come")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Numbered, in your time zone."""
        said = await self.bot.runtime.assistant.reminders.command(
            self._inbound(interaction, "/reminders"))
        await send_ephemeral(interaction, str(said))

    @reminders.command(name="cancel", description="Cancel a reminder by its number")
    @app_commands.describe(number="Its number in /reminders list")
    async def cancel(self, interaction: discord.Interaction[Any],
                     number: app_commands.Range[int, 1, 10_000]) -> None:
        """Cancel one of your reminders."""
        said = await self.bot.runtime.assistant.reminders.command(
            self._inbound(interaction, f"/reminders cancel {number}"))
        await send_ephemeral(interaction, str(said))

    @app_commands.command(name="timezone", description="The time zone your reminders use")
    @app_commands.describe(zone="e.g. Europe/Paris; empty to see yours")
    async def timezone(self, interaction: discord.Interaction[Any], zone: str = "") -> None:
        """Show or set your time zone."""
        said = await self.bot.runtime.assistant.reminders.command(
            self._inbound(interaction, f"/timezone {zone}".strip()))
        await send_ephemeral(interaction, str(said))


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(RemindersCog(bot))
