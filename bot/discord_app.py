"""The Discord surface: `build_bot(settings)` makes the discord.py bot and loads cogs/."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import OrderedDict
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.locales import COMMAND_FR, pick_locale, t
from bot.money.tiers import Subject
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import Runtime, open_runtime

log = logging.getLogger(__name__)

COGS = ("cogs.chat", "cogs.admin", "cogs.premium", "cogs.sponsors", "cogs.privacy",
        "cogs.memory", "cogs.knowledge", "cogs.reminders")


class DiscordStartError(Exception):
    """Discord refused to start the bot; the message says how to fix it."""


class CausetteTranslator(app_commands.Translator):
    """French names and descriptions for the slash commands (English is the source)."""

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        if locale is discord.Locale.french:
            return COMMAND_FR.get(string.message)
        return None


# Users whose locale is remembered at once (a few bytes each).
USER_LOCALES_KEPT = 100_000


class CausetteBot(commands.Bot):
    """The bot: slash commands and a chat listener over the shared runtime."""

    def __init__(self, settings: Settings, runtime: Runtime | None, **options: Any) -> None:
        # A text bot: the warnings about missing voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        intents.message_content = True  # privileged: enable it in the Developer Portal
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, help_command=None,
            # Nothing the bot sends may ping anyone unless a call says so explicitly.
            allowed_mentions=discord.AllowedMentions.none(), **options,
        )
        self.settings = settings
        self._runtime = runtime
        self.accepting = True
        self.closers = AsyncExitStack()
        self.tree.error(self._on_app_command_error)
        # Each user's Discord locale from their last interaction: messages carry none, so
        # mentions and DMs answer in it (crisis lines included), else in the server's.
        self.user_locales: OrderedDict[int, str] = OrderedDict()

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Remember the locale of whoever interacted (bounded: the newest are kept)."""
        self.user_locales[interaction.user.id] = str(interaction.locale.value)
        self.user_locales.move_to_end(interaction.user.id)
        while len(self.user_locales) > USER_LOCALES_KEPT:
            self.user_locales.popitem(last=False)

    def message_locale(self, user_id: int, guild: discord.Guild | None) -> tuple[str, str | None]:
        """The language and country to answer a message in: the user's own remembered
        locale, falling back to the server's."""
        known = self.user_locales.get(user_id)
        return (pick_locale(known, guild.preferred_locale if guild else None),
                locale_region(known))

    @property
    def runtime(self) -> Runtime:
        """The core (store, engine, assistant)."""
        if self._runtime is None:
            raise RuntimeError("this bot was built without a runtime")
        return self._runtime

    async def on_message(self, message: discord.Message) -> None:
        """Prefix commands are not used: the chat cog listens to messages itself."""

    async def close(self) -> None:
        """Stop taking messages, end in-flight answers (stored), then close the core."""
        self.accepting = False
        try:
            for cog in list(self.cogs.values()):
                shutdown = getattr(cog, "shutdown", None)
                if shutdown is not None:
                    await shutdown()
            await super().close()
        finally:
            await self.closers.aclose()  # the database closes even if the gateway did not

    async def _on_app_command_error(self, interaction: discord.Interaction[Any],
                                    error: app_commands.AppCommandError) -> None:
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        if isinstance(error, app_commands.MissingPermissions):
            text = t("no_permission", locale)
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = t("guild_only", locale)
        elif isinstance(error, app_commands.CheckFailure) and str(error):
            text = str(error)  # our checks explain themselves (e.g. the premium gate)
        else:
            log.error("command %s failed", getattr(interaction.command, "qualified_name", "?"),
                      exc_info=error)
            text = t("failed", locale)
        await send_ephemeral(interaction, text)


def conversation_key(channel: Any) -> str:
    """Per user per channel in servers (a thread is its own channel); per user in DMs."""
    guild = getattr(channel, "guild", None)
    if guild is None:
        return "dm"
    return f"guild:{guild.id}:channel:{channel.id}"


def channel_chain(channel: Any) -> list[str]:
    """The channel, then its parent channel (for threads), then its category."""
    chain: list[str] = []
    while channel is not None:
        chain.append(str(channel.id))
        channel = getattr(channel, "parent", None) or getattr(channel, "category", None)
    return chain


def subject_of(user: discord.abc.User, guild: discord.Guild | None,
               entitlements: list[discord.Entitlement] | None = None) -> Subject:
    """What tier resolution needs to know about a Discord user, here."""
    roles = getattr(user, "roles", []) if guild is not None else []
    return Subject(
        user_ref=f"discord:{user.id}",
        role_refs=tuple(f"discord:{guild.id}:{role.id}" for role in roles
                        if guild is not None and role.id != guild.id),
        guild_ref=f"discord:{guild.id}" if guild is not None else None,
        entitlement_skus=tuple(str(e.sku_id) for e in entitlements or []
                               if not e.is_expired() and (e.user_id in (None, user.id))),
    )


def interaction_subject(interaction: discord.Interaction[Any]) -> Subject:
    """The subject of whoever invoked a slash command (entitlements included)."""
    return subject_of(interaction.user, interaction.guild, interaction.entitlements)


def interaction_inbound(interaction: discord.Interaction[Any], text: str) -> Inbound:
    """A slash command as an Inbound for the pipeline."""
    subject = interaction_subject(interaction)
    return Inbound("discord", str(interaction.user.id), conversation_key(interaction.channel),
                   text, pick_locale(interaction.locale, interaction.guild_locale),
                   subject.role_refs, subject.guild_ref, subject.entitlement_skus,
                   region=locale_region(interaction.locale))


def locale_region(locale: object) -> str | None:
    """The country of a Discord locale ("en-GB" -> "GB"; "fr" says none)."""
    code = str(getattr(locale, "value", locale or ""))
    _, _, region = code.partition("-")
    return region.upper() or None


class CausetteShardedBot(CausetteBot, commands.AutoShardedBot):
    """The same bot over several gateway shards (SHARD_COUNT / SHARD_IDS)."""


async def send_ephemeral(interaction: discord.Interaction[Any], text: str, **kwargs: Any) -> None:
    """Answer privately, whether or not the interaction was answered already."""
    with contextlib.suppress(discord.HTTPException):
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(text, ephemeral=True, **kwargs)


async def build_bot(settings: Settings, runtime: Runtime | None = None, *,
                    open_core: bool = True) -> CausetteBot:
    """Create the bot and load every cog, without logging in.

    With no `runtime`, the core is opened here (model loaded, database migrated) and
    closed by `bot.close()`; `open_core=False` skips it (for syncing commands).
    """
    stack = AsyncExitStack()
    if runtime is None and open_core:
        runtime = await stack.enter_async_context(open_runtime(settings))
    if settings.shard_count:
        bot: CausetteBot = CausetteShardedBot(settings, runtime, shard_count=settings.shard_count,
                                              shard_ids=settings.shard_ids or None)
    else:
        bot = CausetteBot(settings, runtime)
    bot.closers = stack
    await bot.tree.set_translator(CausetteTranslator())
    for extension in COGS:
        await bot.load_extension(extension)
    return bot


def explain_start_error(exc: BaseException) -> DiscordStartError | None:
    """One line that says how to fix a failed Discord start, or None if unknown."""
    if isinstance(exc, discord.LoginFailure):
        return DiscordStartError(
            "Discord rejected DISCORD_TOKEN. Copy the token from the Developer Portal "
            "(Applications > your app > Bot > Reset Token) into .env as DISCORD_TOKEN=...")
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return DiscordStartError(
            "Discord refused the Message Content intent. Turn on 'Message Content Intent' "
            "in the Developer Portal (Applications > your app > Bot > Privileged Gateway "
            "Intents), then start again.")
    if isinstance(exc, OSError | aiohttp.ClientError):
        return DiscordStartError(f"Could not reach Discord ({exc}); check the network.")
    return None


async def run_discord(settings: Settings) -> int:
    """Log in and serve until SIGINT/SIGTERM; return the exit code."""
    assert settings.discord_token is not None
    bot = await build_bot(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done() and runner.exception() is not None:
            exc = runner.exception()
            assert exc is not None
            explained = explain_start_error(exc)
            if explained is not None:
                raise explained from None
            raise exc
        log.info("shutting down: no new messages, finishing in-flight answers")
        return 0
    finally:
        stopper.cancel()
        await bot.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def sync_commands(settings: Settings, guild_id: int | None) -> str:
    """Log in, sync the slash commands (to one guild, or globally), log out."""
    assert settings.discord_token is not None
    bot = await build_bot(settings, open_core=False)
    result: list[str] = []

    async def hook() -> None:
        if guild_id:
            guild = discord.Object(id=guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
            result.append(f"synced {len(synced)} commands to guild {guild_id}")
        else:
            synced = await bot.tree.sync()
            result.append(f"synced {len(synced)} commands globally (allow up to an hour)")
        await bot.close()

    bot.setup_hook = hook  # type: ignore[method-assign]
    try:
        await bot.start(settings.discord_token.get_secret_value())
    except discord.DiscordException as exc:
        explained = explain_start_error(exc)
        raise (explained or exc) from None
    return result[0] if result else "nothing synced"
