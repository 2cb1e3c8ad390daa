"""The server's own documents on Discord: /knowledge add (a .txt, .md or .pdf
attachment), /knowledge list, /knowledge remove, for admins (Manage Server).

Answers then draw on them in this server only (bot/knowledge/); a DM never does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import send_ephemeral
from bot.locales import pick_locale, t

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

log = logging.getLogger(__name__)


def _space(interaction: discord.Interaction[Any]) -> str:
    assert interaction.guild is not None  # the group is guild_only
    return f"discord:{interaction.guild.id}"


class KnowledgeCog(commands.Cog, name="Knowledge"):
    """Documents Causette answers from in this server."""

    knowledge = app_commands.Group(
        name="knowledge", description="Documents Causette answers from in this server",
        guild_only=True, default_permissions=discord.Permissions(manage_guild=True))

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot

    @knowledge.command(name="add", description="Add a text, Markdown or PDF document")
    @app_commands.describe(document="A .txt, .md or .pdf file")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction[Any],
                  document: discord.Attachment) -> None:
        """Download, read and index the attachment (a PDF takes a moment: deferred)."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        library = self.bot.runtime.assistant.knowledge
        if document.size > self.bot.settings.knowledge_max_bytes:
            await send_ephemeral(interaction, t(
                "knowledge_too_big", locale, name=document.filename, size=document.size,
                limit=self.bot.settings.knowledge_max_bytes))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await document.read()
            said = await library.add(_space(interaction), document.filename, data,
                                     f"discord:{interaction.user.id}", locale)
        except (discord.HTTPException, OSError) as exc:
            log.warning("could not fetch %s: %s", document.filename, exc)
            said = t("knowledge_no_file", locale, name=document.filename, why=str(exc))
        except Exception as exc:  # the store failed: the admin is told, never left waiting
            log.error("could not add %s: %s", document.filename, exc)
            said = t("failed", locale)
        await send_ephemeral(interaction, said)

    @knowledge.command(name="list", description="The documents Causette answers from here")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Numbered, with their sizes."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.knowledge.listing(
            _space(interaction), locale))

    @knowledge.command(name="remove", description="Remove a document (its number in the list)")
    @app_commands.describe(number="The document's number in /knowledge list")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction[Any],
                     number: app_commands.Range[int, 1, 10_000]) -> None:
        """Remove the document and every passage of it."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.knowledge.remove(
            _space(interaction), number, locale))


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(KnowledgeCog(bot))
