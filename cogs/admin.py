"""Server settings for admins (Manage Server): where Causette answers, channel prompts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import send_ephemeral
from bot.locales import pick_locale, t
from bot.safety.moderation import CATEGORIES

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

Mode = Literal["allow", "block", "clear"]
RuleChannel = discord.TextChannel | discord.CategoryChannel | discord.ForumChannel | discord.Thread


def _locale(interaction: discord.Interaction[Any]) -> str:
    return pick_locale(interaction.locale, interaction.guild_locale)


class AdminCog(commands.Cog, name="Admin"):
    """`/config`: per-server settings, stored in SQLite."""

    config = app_commands.Group(
        name="config", description="Choose where Causette answers in this server",
        guild_only=True, default_permissions=discord.Permissions(manage_guild=True))

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot

    async def _set_rule(self, interaction: discord.Interaction[Any], kind: str,
                        target: discord.abc.Snowflake, label: str, mode: Mode) -> None:
        assert interaction.guild is not None
        await self.bot.runtime.store.set_guild_rule(
            str(interaction.guild.id), kind, str(target.id), None if mode == "clear" else mode,
            set_by=f"discord:{interaction.user.id}")
        await send_ephemeral(interaction, t("config_saved", _locale(interaction),
                                            what=f"{kind} {label}: {mode}"))

    @config.command(name="show", description="Show this server's Causette settings")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        """The server's rules and channel prompts."""
        assert interaction.guild is not None
        locale = _locale(interaction)
        store = self.bot.runtime.store
        rules = await store.guild_rules(str(interaction.guild.id))
        mention = {"channel": "<#{}>", "role": "<@&{}>", "user": "<@{}>"}
        rule_lines = [f"- {r.mode} {r.kind} {mention[r.kind].format(r.target_id)}"
                      for r in rules] or [f"- {t('config_none', locale)}"]
        prompts = await store.channel_prompts(str(interaction.guild.id))
        prompt_lines = [f"- <#{cid}>: {text[:80]}" for cid, text in prompts.items()] or [
            f"- {t('prompts_none', locale)}"]
        dms = t("on" if self.bot.settings.discord_answer_dms else "off", locale)
        await send_ephemeral(interaction, t(
            "config_show", locale, rules="\n".join(rule_lines), prompts="\n".join(prompt_lines),
            dms=dms))

    @config.command(name="channel",
                    description="Allow, block or clear a channel (threads and categories inherit)")
    @app_commands.describe(target="The channel or category", mode="allow, block, or clear the rule")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel(self, interaction: discord.Interaction[Any], target: RuleChannel,
                      mode: Mode) -> None:
        """Allow or block a channel; with any allowed channel, only those are answered."""
        await self._set_rule(interaction, "channel", target, f"#{target.name}", mode)

    @config.command(name="role", description="Allow, block or clear a role")
    @app_commands.describe(target="The role", mode="allow, block, or clear the rule")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def role(self, interaction: discord.Interaction[Any], target: discord.Role,
                   mode: Mode) -> None:
        """Allow or block a role; with any allowed role, only its members are answered."""
        await self._set_rule(interaction, "role", target, f"@{target.name}", mode)

    @config.command(name="user", description="Allow, block or clear a member")
    @app_commands.describe(target="The member", mode="allow, block, or clear the rule")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def user(self, interaction: discord.Interaction[Any], target: discord.Member,
                   mode: Mode) -> None:
        """Allow or block one member."""
        await self._set_rule(interaction, "user", target, target.display_name, mode)

    @config.command(name="channel-prompt",
                    description="Set or clear the system prompt of a channel")
    @app_commands.describe(target="The channel or category",
                           text="The system prompt; leave empty to clear")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel_prompt(self, interaction: discord.Interaction[Any], target: RuleChannel,
                             text: str | None = None) -> None:
        """A system prompt for conversations in a channel (and its threads)."""
        assert interaction.guild is not None
        locale = _locale(interaction)
        limit = self.bot.settings.channel_prompt_max_chars
        if text is not None and len(text) > limit:
            await send_ephemeral(interaction, t("prompt_too_long", locale, size=len(text),
                                                limit=limit))
            return
        await self.bot.runtime.store.set_channel_prompt(
            str(interaction.guild.id), str(target.id), text.strip() if text else None,
            set_by=f"discord:{interaction.user.id}")
        what = f"prompt #{target.name}: " + ("set" if text else "clear")
        await send_ephemeral(interaction, t("config_saved", locale, what=what))

    @config.command(name="moderation",
                    description="Choose which kinds of message are refused in this server")
    @app_commands.describe(category="The kind of message",
                           mode="refuse it, allow it, or reset every kind to the default")
    @app_commands.choices(category=[app_commands.Choice(name=c, value=c) for c in CATEGORIES])
    @app_commands.checks.has_permissions(manage_guild=True)
    async def moderation(self, interaction: discord.Interaction[Any], category: str,
                         mode: Literal["refuse", "allow", "default"]) -> None:
        """Refuse or allow a moderation category here, within the operator's floor."""
        assert interaction.guild is not None
        locale, guild = _locale(interaction), str(interaction.guild.id)
        store = self.bot.runtime.store
        policy = self.bot.runtime.assistant.moderation
        set_by = f"discord:{interaction.user.id}"
        if mode == "allow" and category in policy.floor:
            await send_ephemeral(interaction, t("moderation_floor", locale, category=category))
            return
        if mode == "default":
            await store.set_guild_moderation(guild, None, set_by)
        else:
            current = await store.guild_moderation(guild)
            chosen = set(policy.default if current is None else current)
            if mode == "refuse":
                chosen.add(category)
            else:
                chosen.discard(category)
            await store.set_guild_moderation(guild, sorted(chosen), set_by)
        refused = policy.refused_categories(await store.guild_moderation(guild))
        await send_ephemeral(interaction, t("moderation_saved", locale,
                                            refused=", ".join(sorted(refused))))


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(AdminCog(bot))
