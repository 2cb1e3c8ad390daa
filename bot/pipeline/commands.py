"""Typed commands: one router for the text surfaces (the terminal and WhatsApp).

A message that starts with "/" is a command here, whichever surface it came from: the
same names, the same answers, the same help, in the user's language. Discord has its
own slash commands (cogs/); the terminal adds only /quit, which is not a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.locales import t
from bot.pipeline.assistant import Assistant
from bot.pipeline.replies import Inbound, Reply


@dataclass(frozen=True)
class CommandAnswer:
    """What a command answers: a line of text, or a reply rendered like a chat answer
    (/summarize, /translate), never both."""

    text: str | None = None
    reply: Reply | None = None


Handler = Callable[[Assistant, Inbound, str], Awaitable[CommandAnswer]]

# /summarize without a number summarises this many turns (bounded by the settings).
SUMMARIZE_DEFAULT = 20


async def _help(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    return CommandAnswer(t("typed_help", inbound.locale))


async def _reset(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    await assistant.reset(inbound.platform, inbound.user, inbound.conversation_key)
    return CommandAnswer(t("reset_done", inbound.locale))


async def _premium(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    return CommandAnswer(await assistant.tiers.summary(inbound.subject))


async def _persona(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    action, _, text = rest.partition(" ")
    if action.lower() == "set":
        return CommandAnswer(await assistant.set_persona(inbound, text))
    if action.lower() == "clear":
        return CommandAnswer(await assistant.set_persona(inbound, None))
    return CommandAnswer(await assistant.show_persona(inbound))


async def _privacy(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    return CommandAnswer(await assistant.privacy.command(inbound.user_ref, rest,
                                                         inbound.locale))


async def _memory(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    # /remember, /memory and /temporary: the memory part owns their wording.
    return CommandAnswer(await assistant.memory.command(inbound)
                         or t("memory_usage", inbound.locale))


async def _ads(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    choice = " ".join(rest.lower().split())
    if choice not in ("personalize on", "personalize off"):
        return CommandAnswer(t("ads_usage", inbound.locale))
    user_id = await assistant.store.ensure_user(inbound.platform, inbound.user)
    on = choice.endswith("on")
    await assistant.store.set_personalize(user_id, on)
    return CommandAnswer(t("ads_personalize_on" if on else "ads_personalize_off",
                           inbound.locale))


async def _summarize(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    count = int(rest) if rest.strip().isdigit() else SUMMARIZE_DEFAULT
    limit = min(count, assistant.settings.summarize_max_messages)
    refusal = await assistant.gate(inbound.subject, "summarize", inbound.locale)
    transcript = "" if refusal else await assistant.transcript(inbound, limit)
    return CommandAnswer(reply=await assistant.run_command(inbound, "summarize",
                                                           transcript or " "))


async def _translate(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    language, _, text = rest.partition(" ")
    return CommandAnswer(reply=await assistant.run_command(inbound, "translate", text,
                                                           language=language))


async def _knowledge(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    """/knowledge add FILE | list | remove N, on the terminal's own documents. The
    terminal only: `add` reads a file of this machine, which no remote user may do."""
    if inbound.platform != "local":  # TERMINAL_ONLY
        return CommandAnswer(t("unknown_command", inbound.locale, name="/knowledge"))
    action, _, argument = rest.strip().partition(" ")
    library, lang, space = assistant.knowledge, inbound.locale, inbound.platform
    if action == "add" and argument.strip():
        path = Path(argument.strip())
        try:
            data = await asyncio.to_thread(lambda: path.expanduser().read_bytes())
        except OSError as exc:
            return CommandAnswer(t("knowledge_no_file", lang, name=path,
                                   why=exc.strerror or exc))
        return CommandAnswer(await library.add(space, path.name, data, inbound.user_ref,
                                               lang))
    if action == "list":
        return CommandAnswer(await library.listing(space, lang))
    if action == "remove" and argument.strip().isdigit():
        return CommandAnswer(await library.remove(space, int(argument), lang))
    return CommandAnswer(t("knowledge_usage", lang))


async def _reminders(assistant: Assistant, inbound: Inbound, rest: str) -> CommandAnswer:
    # /remind, /reminders and /timezone: the reminders part owns their wording.
    return CommandAnswer(str(await assistant.reminders.command(inbound)))


COMMANDS: dict[str, Handler] = {
    "/help": _help, "/reset": _reset, "/premium": _premium, "/persona": _persona,
    "/privacy": _privacy, "/remember": _memory, "/memory": _memory, "/temporary": _memory,
    "/ads": _ads, "/summarize": _summarize, "/translate": _translate,
    "/remind": _reminders, "/reminders": _reminders, "/timezone": _reminders,
    "/knowledge": _knowledge,
}


# Commands only the terminal may run (they read this machine's files); listed in the
# terminal's own help, answered elsewhere as unknown.
TERMINAL_ONLY = frozenset({"/knowledge"})


def is_command(text: str) -> bool:
    """Whether a message is a typed command (it starts with "/")."""
    return text.lstrip().startswith("/")


async def run_typed(assistant: Assistant, inbound: Inbound) -> CommandAnswer | None:
    """Answer a typed command; None when the message is not one (it is a question for
    the assistant). An unknown command is told so, never sent to the model."""
    words = inbound.text.strip().split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return None
    name, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    handler = COMMANDS.get(name)
    if handler is None:
        return CommandAnswer(t("unknown_command", inbound.locale, name=words[0]))
    return await handler(assistant, inbound, rest)
