"""Chat: answer mentions, DMs and replies with a streamed answer; /ask, /reset,
/history, /model, /help, /cancel."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import (
    channel_chain,
    conversation_key,
    interaction_inbound,
    send_ephemeral,
    subject_of,
)
from bot.locales import pick_locale, t
from bot.money.access import may_answer
from bot.pipeline.assistant import Inbound, Reply
from bot.pipeline.streaming import EditCadence, split_text

if TYPE_CHECKING:
    from bot.discord_app import CausetteBot

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({
    ".txt", ".md", ".markdown", ".rst", ".py", ".js", ".ts", ".tsx", ".jsx", ".json",
    ".csv", ".tsv", ".log", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".html", ".css",
    ".c", ".h", ".cpp", ".hpp", ".java", ".kt", ".go", ".rs", ".rb", ".php", ".sh",
    ".sql", ".xml", ".tex", ".swift", ".lua", ".r", ".srt",
})
ANSWER_MENTIONS = discord.AllowedMentions(everyone=False, users=False, roles=False,
                                          replied_user=True)


class Sink(Protocol):
    """Where an answer is shown: a channel (replying to a message) or an interaction."""

    async def send(self, content: str, *, first: bool) -> Any: ...
    def typing(self) -> contextlib.AbstractAsyncContextManager[Any]: ...


class ChannelSink:
    """Answers in a channel, the first message replying to the user's message."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message

    async def send(self, content: str, *, first: bool) -> discord.Message:
        channel = self.message.channel
        if first:
            return await channel.send(content, reference=self.message, mention_author=True,
                                      allowed_mentions=ANSWER_MENTIONS, silent=True)
        return await channel.send(content, allowed_mentions=discord.AllowedMentions.none(),
                                  silent=True)

    def typing(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self.message.channel.typing()


class InteractionSink:
    """Answers a deferred slash command through its follow-up messages."""

    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self.interaction = interaction

    async def send(self, content: str, *, first: bool) -> discord.WebhookMessage:
        return await self.interaction.followup.send(
            content, wait=True, allowed_mentions=discord.AllowedMentions.none())

    def typing(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return contextlib.nullcontext()  # the deferred "thinking..." says it already


class StreamedMessages:
    """Shows a growing text as one or more messages, editing at a safe cadence."""

    def __init__(self, sink: Sink, interval: float, on_message: Any = None) -> None:
        self.sink = sink
        self.cadence = EditCadence(interval)
        self.messages: list[Any] = []
        self.shown: list[str] = []
        self.dead = False  # a message or the channel vanished: stop showing
        self._on_message = on_message

    async def show(self, text: str, *, final: bool = False) -> None:
        """Bring the messages up to `text`; edits of the last one wait for the cadence."""
        if self.dead:
            return
        chunks = split_text(text or "…")
        try:
            for index, chunk in enumerate(chunks):
                if index < len(self.messages):
                    if self.shown[index] == chunk:
                        continue
                    is_last = index == len(chunks) - 1
                    if is_last and not final and not self.cadence.ready():
                        continue
                    await self.messages[index].edit(
                        content=chunk, allowed_mentions=discord.AllowedMentions.none())
                    self.shown[index] = chunk
                else:
                    sent = await self.sink.send(chunk, first=not self.messages)
                    self.messages.append(sent)
                    self.shown.append(chunk)
                    if self._on_message is not None:
                        self._on_message(sent)
            self.cadence.mark()
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("answer target vanished (%s); cancelling", exc.status)
            self.dead = True
        except discord.HTTPException as exc:
            log.warning("could not show the answer (HTTP %s); cancelling", exc.status)
            self.dead = True


class ChatCog(commands.Cog, name="Chat"):
    """Conversations with the assistant."""

    def __init__(self, bot: CausetteBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self._by_message: dict[int, Reply] = {}
        self._by_channel: dict[int, set[Reply]] = defaultdict(set)
        self._by_user: dict[int, set[Reply]] = defaultdict(set)

    # Listening -------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer mentions, DMs and replies to the bot."""
        if not self.bot.accepting or not await self._addressed(message):
            return
        if message.guild is not None:
            role_ids = [str(r.id) for r in getattr(message.author, "roles", [])]
            rules = await self.bot.runtime.store.guild_rules(str(message.guild.id))
            if not may_answer(rules, user_id=str(message.author.id), role_ids=role_ids,
                              channel_chain=channel_chain(message.channel)):
                return
        locale, region = self.bot.message_locale(message.author.id, message.guild)  # type: ignore[attr-defined]
        text, notes = await self._read(message, locale)
        subject = subject_of(message.author, message.guild)
        inbound = Inbound("discord", str(message.author.id), conversation_key(message.channel),
                          text, locale, subject.role_refs, subject.guild_ref, (), region)
        await self.respond(inbound, ChannelSink(message), message.author.id,
                           getattr(message.channel, "id", 0), notes,
                           await self._channel_prompt(message.channel))

    async def _addressed(self, message: discord.Message) -> bool:
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return False
        if message.guild is None:
            return self.settings.discord_answer_dms
        if any(user.id == me.id for user in message.mentions):  # never @everyone/@here
            return True
        reference = message.reference
        if reference is None or reference.message_id is None:
            return False
        replied = reference.resolved
        if replied is None:
            with contextlib.suppress(discord.HTTPException):
                replied = await message.channel.fetch_message(reference.message_id)
        return isinstance(replied, discord.Message) and replied.author.id == me.id

    async def _read(self, message: discord.Message, locale: str) -> tuple[str, list[str]]:
        """The message's text without the bot's mention, plus readable attachments."""
        text = message.content
        if self.bot.user is not None:
            for form in (f"<@{self.bot.user.id}>", f"<@!{self.bot.user.id}>"):
                text = text.replace(form, "")
        parts, notes, skipped = [text.strip()], [], []
        limit = self.settings.attachment_max_bytes
        for attachment in message.attachments:
            name = attachment.filename
            is_text = ((attachment.content_type or "").startswith("text/")
                       or PurePath(name).suffix.lower() in TEXT_SUFFIXES)
            if not is_text:
                skipped.append(name)
                continue
            if attachment.size > limit:
                notes.append(t("attachment_too_big", locale, name=name, limit=limit))
                continue
            try:
                data = await attachment.read()
            except (discord.HTTPException, OSError):
                notes.append(t("text_only", locale, names=name))
                continue
            if len(data) > limit:
                notes.append(t("attachment_too_big", locale, name=name, limit=limit))
            elif b"\x00" in data:
                skipped.append(name)
            else:
                parts.append(f"[Attached file {name}]\n{data.decode('utf-8', 'replace')}")
        if skipped:
            notes.append(t("text_only", locale, names=", ".join(skipped)))
        return "\n\n".join(p for p in parts if p), notes

    async def _channel_prompt(self, channel: Any) -> str | None:
        guild = getattr(channel, "guild", None)
        if guild is None:
            return None
        prompts = await self.bot.runtime.store.channel_prompts(str(guild.id))
        for channel_id in channel_chain(channel):
            if channel_id in prompts:
                return prompts[channel_id]
        return None

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """An answer's message was deleted: stop generating it."""
        reply = self._by_message.get(payload.message_id)
        if reply is not None:
            reply.cancel()

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """The channel is gone: stop every answer in it."""
        for reply in list(self._by_channel.get(channel.id, ())):
            reply.cancel()

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """The thread is gone: stop every answer in it."""
        for reply in list(self._by_channel.get(payload.thread_id, ())):
            reply.cancel()

    # Answering -------------------------------------------------------------------

    async def respond(self, inbound: Inbound, sink: Sink, user_id: int, channel_id: int,
                      notes: list[str], system_prompt: str | None) -> None:
        """Run the pipeline and stream its answer into `sink`; every path ends in words."""
        runtime = self.bot.runtime
        try:
            async with sink.typing():
                reply = await runtime.assistant.handle(inbound, system_prompt=system_prompt)
        except Exception as exc:  # e.g. a locked database: the user is told, not ignored
            log.error("could not answer %s: %s", inbound.user_ref, exc)
            with contextlib.suppress(discord.HTTPException):
                await sink.send(t("failed", inbound.locale), first=True)
            return
        header = "".join(f"-# {note}\n" for note in [*notes, *reply.notices])
        if reply.preface:  # the crisis lines come first, before any word of the model
            header += reply.preface + "\n\n"
        stream = StreamedMessages(sink, self.settings.discord_edit_interval,
                                  on_message=lambda m: self._by_message.__setitem__(m.id, reply))
        if reply.refusal:
            with contextlib.suppress(discord.HTTPException):
                await stream.show(header + reply.refusal, final=True)
            return
        self._by_user[user_id].add(reply)
        self._by_channel[channel_id].add(reply)
        try:
            await self._stream(inbound, reply, stream, header)
            outcome = await reply.outcome()
            note = outcome.note(inbound.locale)
            final = header + outcome.shown_text.strip()  # a withheld answer disappears
            if note:
                final += f" {note}" if outcome.status == "cancelled" else f"\n{note}"
            await stream.show(final.strip(), final=True)
            if not stream.dead:
                await self._sponsored(inbound, reply, stream)
                await self._suggested(inbound, reply, stream, user_id)
        except Exception as exc:  # a store or Discord failure mid-answer: still say so
            log.error("answer to %s failed: %s", inbound.user_ref, exc)
            reply.cancel()
            shown = reply.generation.text_so_far.strip() if reply.generation else ""
            with contextlib.suppress(Exception):
                await stream.show(f"{header}{shown}\n{t('failed', inbound.locale)}", final=True)
        finally:
            reply.cancel()  # no-op when finished; stops generation if we were interrupted
            for index, key in ((self._by_user, user_id), (self._by_channel, channel_id)):
                index[key].discard(reply)
                if not index[key]:
                    del index[key]  # no empty entries piling up, one per user ever seen
            for message in stream.messages:
                self._by_message.pop(message.id, None)

    async def _stream(self, inbound: Inbound, reply: Reply, stream: StreamedMessages,
                      header: str) -> None:
        """Show the answer as it grows, at a cadence Discord accepts."""
        assert reply.generation is not None
        position = self.bot.runtime.engine.queue_position(reply.generation)
        if position >= self.settings.discord_queue_notice_at:
            await stream.show(header + t("queued", inbound.locale, position=position))
        async with stream.sink.typing():
            first = await anext(reply, None)
        if first is None:
            return
        text = first
        await stream.show(header + text)
        async for delta in reply:
            text += delta
            if stream.dead:
                reply.cancel()
                break
            if stream.cadence.ready():
                await stream.show(header + text)

    async def _sponsored(self, inbound: Inbound, reply: Reply, stream: StreamedMessages) -> None:
        """After the stored answer, maybe a sponsored block (a separate message)."""
        sponsors = self.bot.get_cog("Sponsors")
        if sponsors is None or not stream.messages:
            return
        offer = await self.bot.runtime.assistant.sponsored(inbound, reply)
        if offer is not None:
            await sponsors.show_ad(offer, stream.messages[-1].channel,  # type: ignore[attr-defined]
                                   inbound.locale)

    async def _suggested(self, inbound: Inbound, reply: Reply, stream: StreamedMessages,
                         user_id: int) -> None:
        """MEMORY_AUTO: once the answer is shown, the fact saved from it, with Undo."""
        cog = self.bot.get_cog("Memory")
        saved = await reply.suggestion if reply.suggestion is not None else None
        if cog is not None and saved is not None and stream.messages:
            await cog.show_saved(saved, stream.messages[-1].channel,  # type: ignore[attr-defined]
                                 user_id, inbound.locale)

    async def shutdown(self) -> None:
        """Stop every answer in progress (each is stored as cancelled)."""
        for replies in self._by_user.values():
            for reply in replies:
                reply.cancel()

    # Slash commands --------------------------------------------------------------

    @app_commands.command(name="ask", description="Ask Causette something in this channel")
    @app_commands.describe(prompt="What to ask")
    async def ask(self, interaction: discord.Interaction[Any],
                  prompt: app_commands.Range[str, 1, 4000]) -> None:
        """Answer a question in the channel, streamed."""
        await interaction.response.defer(thinking=True)
        inbound = interaction_inbound(interaction, prompt)
        await self.respond(inbound, InteractionSink(interaction), interaction.user.id,
                           interaction.channel_id or 0, [],
                           await self._channel_prompt(interaction.channel))

    @app_commands.command(name="reset", description="Start a new conversation with Causette here")
    async def reset(self, interaction: discord.Interaction[Any]) -> None:
        """Close this conversation and start afresh."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        await self.bot.runtime.assistant.reset("discord", str(interaction.user.id),
                                               conversation_key(interaction.channel))
        await send_ephemeral(interaction, t("reset_done", locale))

    @app_commands.command(
        name="history", description="Show your last turns with Causette here (only you see it)")
    async def history(self, interaction: discord.Interaction[Any]) -> None:
        """The user's last turns in this conversation, privately."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        turns = await self.bot.runtime.assistant.history(
            "discord", str(interaction.user.id), conversation_key(interaction.channel), limit=10)
        if not turns:
            await send_ephemeral(interaction, t("history_empty", locale))
            return
        lines = [t("history_title", locale)]
        for turn in turns:
            who = "🧑" if turn.role == "user" else "🤖"
            snippet = " ".join(turn.content.split())
            lines.append(f"{who} {snippet[:150]}{'…' if len(snippet) > 150 else ''}")
        await send_ephemeral(interaction, split_text("\n".join(lines))[0])

    @app_commands.command(name="model", description="Show the model, its context, speed and queue")
    async def model(self, interaction: discord.Interaction[Any]) -> None:
        """What runs the bot, and how fast."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        engine = self.bot.runtime.engine
        tps = engine.tokens_per_second
        speed = t("speed", locale, tps=tps) if tps else t("speed_unknown", locale)
        await send_ephemeral(interaction, t(
            "model_info", locale, name=engine.info.model_name, arch=engine.info.architecture,
            n_ctx=engine.info.n_ctx, speed=speed, queue=engine.queue_depth))

    @app_commands.command(name="help", description="How to use Causette")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """How to talk to the bot."""
        await send_ephemeral(interaction,
                             t("help", pick_locale(interaction.locale, interaction.guild_locale)))

    @app_commands.command(name="cancel", description="Stop your answer in progress")
    async def cancel(self, interaction: discord.Interaction[Any]) -> None:
        """Stop the user's answers in progress."""
        locale = pick_locale(interaction.locale, interaction.guild_locale)
        replies = list(self._by_user.get(interaction.user.id, ()))
        for reply in replies:
            reply.cancel()
        await send_ephemeral(interaction, t("cancel_done", locale, count=len(replies))
                             if replies else t("cancel_none", locale))


async def setup(bot: CausetteBot) -> None:
    """discord.py extension entry point."""
    await bot.add_cog(ChatCog(bot))
