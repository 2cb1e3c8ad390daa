"""Memory on Discord: /memory list|add|forget|clear|off|on, /temporary, and the
"Saved to memory" message of a MEMORY_AUTO save with its Undo button."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import send_ephemeral
from bot.locales import pick_locale, t
from bot.store import Memory

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

# Forget and Undo buttons carry the owner's Discord id and the memory's id: they work
# after a restart, and only the owner's press forgets anything.
FORGET_TEMPLATE = r"memory:forget:(?P<owner>\d+):(?P<memory>\d+)"
MAX_BUTTONS = 25  # Discord's limit per message (5 rows of 5)


class ForgetButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=FORGET_TEMPLATE):
    """Forget one memory (the list's buttons, and Undo after an automatic save)."""

    def __init__(self, owner: int, memory_id: int, label: str = "Undo") -> None:
        super().__init__(discord.ui.Button(
            label=label, style=discord.ButtonStyle.secondary,
            custom_id=f"memory:forget:{owner}:{memory_id}"))
        self.owner, self.memory_id = owner, memory_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any],
                             item: discord.ui.Item[Any], match: re.Match[str]
                             ) -> ForgetButton:
        return cls(int(match["owner"]), int(match["memory"]))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner  # nobody forgets someone else's memory

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: CausetteBot = interaction.client  # type: ignore[assignment]
        memory = bot.runtime.assistant.memory
        user_id = await bot.runtime.store.ensure_user("discord", str(self.owner))
        await send_ephemeral(interaction, await memory.forget_id(
            user_id, self.memory_id, pick_locale(interaction.locale)))


class MemoryCog(commands.Cog, name="Memory"):
    """The user's memories and temporary chat."""

    memory = app_commands.Group(name="memory", description="What Causette remembers about you")

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot

    async def _user(self, interaction: discord.Interaction[Any]) -> tuple[int, str]:
        user_id = await self.bot.runtime.store.ensure_user("discord", str(interaction.user.id))
        return user_id, pick_locale(interaction.locale, interaction.guild_locale)

    @memory.command(name="list", description="Your saved memories, with buttons to forget them")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Only the user sees it; one Forget button per memory (the first 25)."""
        user_id, locale = await self._user(interaction)
        memories = self.bot.runtime.assistant.memory
        view = discord.ui.View(timeout=None)
        stored = await self.bot.runtime.store.memories(user_id)
        for number, item in enumerate(stored[:MAX_BUTTONS], start=1):
            view.add_item(ForgetButton(interaction.user.id, item.id,
                                       t("btn_forget_n", locale, number=number)))
        await send_ephemeral(interaction, await memories.listing(user_id, locale),
                             **({"view": view} if stored else {}))

    @memory.command(name="add", description="Save a fact about you")
    @app_commands.describe(fact="The fact, e.g. 'I am vegetarian'")
    async def add(self, interaction: discord.Interaction[Any], fact: str) -> None:
        """Save a fact (the same rules as everywhere)."""
        user_id, locale = await self._user(interaction)
        saved = await self.bot.runtime.assistant.memory.save(
            user_id, fact, "explicit", "discord", locale)
        await send_ephemeral(interaction, saved.message)

    @memory.command(name="forget", description="Forget one memory by its number")
    @app_commands.describe(number="Its number in /memory list")
    async def forget(self, interaction: discord.Interaction[Any],
                     number: app_commands.Range[int, 1, 100_000]) -> None:
        """Forget the memory shown with this number."""
        user_id, locale = await self._user(interaction)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.memory.forget_number(
            user_id, number, locale))

    @memory.command(name="clear", description="Forget all your memories")
    async def clear(self, interaction: discord.Interaction[Any]) -> None:
        """Forget everything saved."""
        user_id, locale = await self._user(interaction)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.memory.clear(
            user_id, locale))

    @memory.command(name="off", description="Stop saving and using memories")
    async def off(self, interaction: discord.Interaction[Any]) -> None:
        """No saving, no use, until /memory on."""
        user_id, locale = await self._user(interaction)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.memory.set_enabled(
            user_id, False, locale))

    @memory.command(name="on", description="Save and use memories again")
    async def on(self, interaction: discord.Interaction[Any]) -> None:
        """Back to saving and using memories."""
        user_id, locale = await self._user(interaction)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.memory.set_enabled(
            user_id, True, locale))

    @app_commands.command(name="temporary",
                          description="Temporary chat: nothing stored, no memory, no ads")
    async def temporary(self, interaction: discord.Interaction[Any],
                        choice: Literal["on", "off"]) -> None:
        """Turn temporary chat on or off."""
        user_id, locale = await self._user(interaction)
        await send_ephemeral(interaction, await self.bot.runtime.assistant.memory.set_temporary(
            user_id, choice == "on", locale))

    async def show_saved(self, memory: Memory, channel: discord.abc.Messageable,
                         owner: int, locale: str) -> None:
        """A MEMORY_AUTO save, said in the channel of the answer, with an Undo button."""
        view = discord.ui.View(timeout=None)
        view.add_item(ForgetButton(owner, memory.id, t("btn_undo", locale)))
        await channel.send(t("memory_saved", locale, fact=memory.fact), view=view,
                           allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    bot.add_dynamic_items(ForgetButton)
    await bot.add_cog(MemoryCog(bot))
