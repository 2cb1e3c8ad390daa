"""The terminal chat: the same pipeline as every surface, no token, no network."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.locales import t
from bot.pipeline.assistant import Assistant, Inbound, Reply

HELP = """Commands:
  /reset                      start a new conversation (the old one stays stored)
  /premium                    your tier, today's usage, and what each tier gives
  /persona [set TEXT|clear]   a custom system prompt for your conversations (premium)
  /summarize [N]              summarise the last N turns of this conversation (premium)
  /translate LANGUAGE TEXT    translate TEXT into LANGUAGE (premium)
  /privacy [export|forget]    what is stored; all of it as JSON; delete it all
  /ads personalize on|off     let sponsored replies match your conversation, not just
                              your message (off by default)
  /remember FACT              save a fact about you ("remember that ..." works too)
  /memory [list|add FACT|forget N|clear|off|on]
                              what Causette remembers about you, in your hands
  /temporary on|off           temporary chat: nothing stored, no memory, no ads
  /remind WHEN WHAT            e.g. /remind tomorrow at 9 to call the bank
                              ("remind me ..." works too)
  /reminders [cancel N]       your reminders to come; cancel one
  /timezone [ZONE]            the time zone reminders use, e.g. Europe/Paris
  /knowledge [add FILE|list|remove N]
                              documents (.txt, .md, .pdf) answers here draw on
  /help                       show this help
  /quit                       leave (Ctrl-D works too)
Anything else is sent to the assistant. Ctrl-C stops an answer in progress."""

CONVERSATION_KEY = "terminal"

log = logging.getLogger(__name__)


@dataclass
class ConsoleIO:
    """Where the terminal chat reads and writes; interactive means a person at a TTY."""

    stdin: TextIO
    stdout: TextIO
    interactive: bool

    @classmethod
    def from_sys(cls) -> ConsoleIO:
        """The process's own streams."""
        return cls(sys.stdin, sys.stdout, sys.stdin.isatty() and sys.stdout.isatty())


class _LineReader:
    """Reads stdin on a daemon thread, so the event loop never waits on a person and
    Ctrl-C never hangs at exit."""

    def __init__(self, io: ConsoleIO, loop: asyncio.AbstractEventLoop) -> None:
        self._io, self._loop = io, loop
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._wanted = threading.Semaphore(0)
        threading.Thread(target=self._run, name="causette-stdin", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wanted.acquire()
            try:
                if self._io.interactive:
                    line: str | None = input("you> ")
                else:
                    raw = self._io.stdin.readline()
                    line = raw.rstrip("\r\n") if raw else None
            except (EOFError, KeyboardInterrupt, OSError, ValueError):
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def next_line(self) -> str | None:
        """The next line typed or piped in; None at end of input."""
        self._wanted.release()
        return await self._lines.get()


async def _show_sponsored(assistant: Assistant, inbound: Inbound, reply: Reply,
                          io: ConsoleIO) -> None:
    offer = await assistant.sponsored(inbound, reply)
    if offer is None:
        return
    io.stdout.write("\n" + assistant.ads.block(offer, inbound.locale) + "\n")
    io.stdout.flush()
    await assistant.ads.delivered(offer)  # printed: now it may be charged


async def _show_suggestion(assistant: Assistant, inbound: Inbound, reply: Reply,
                           io: ConsoleIO) -> None:
    """MEMORY_AUTO: after the answer, the fact saved from it and how to undo it."""
    saved = await reply.suggestion if reply.suggestion is not None else None
    if saved is not None:
        user_id = await assistant.memory.user_id(inbound)
        io.stdout.write(await assistant.memory.undo_hint(user_id, saved) + "\n")


async def _show(reply: Reply, io: ConsoleIO) -> bool:
    """Print a reply as it comes; False when it ended without a usable answer."""
    out = io.stdout
    for notice in reply.notices:
        out.write(f"[{notice}]\n")
    if reply.refusal:
        out.write(f"{reply.refusal}\n")
        out.flush()
        return True
    if reply.preface:
        out.write(f"{reply.preface}\n")
    if io.interactive:
        out.write("causette> ")
        async for delta in reply:
            out.write(delta)
            out.flush()
        outcome = await reply.outcome()
        if outcome.status == "cancelled":
            out.write(" [stopped]")
        out.write("\n")
        if outcome.sources and outcome.shown_text != outcome.text:
            out.write(f"{outcome.sources}\n")
    else:
        outcome = await reply.outcome()
        if outcome.shown_text.strip():
            out.write(outcome.shown_text.strip() + "\n")
    if outcome.status in ("failed", "moderated"):  # a line replaces what was withheld
        out.write(f"[{outcome.note()}]\n")
    out.flush()
    return outcome.status != "failed"


async def _knowledge(assistant: Assistant, inbound: Inbound, rest: str) -> str:
    """/knowledge add FILE | list | remove N, on the terminal's own documents."""
    action, _, argument = rest.strip().partition(" ")
    library, lang, space = assistant.knowledge, inbound.locale, inbound.platform
    if action == "add" and argument.strip():
        path = Path(argument.strip())
        try:
            data = await asyncio.to_thread(lambda: path.expanduser().read_bytes())
        except OSError as exc:
            return t("knowledge_no_file", lang, name=path, why=exc.strerror or exc)
        return await library.add(space, path.name, data, inbound.user_ref, lang)
    if action == "list":
        return await library.listing(space, lang)
    if action == "remove" and argument.strip().isdigit():
        return await library.remove(space, int(argument), lang)
    return t("knowledge_usage", lang)


async def _command(assistant: Assistant, inbound: Inbound,
                   io: ConsoleIO) -> tuple[bool, Reply | None]:
    """Run a typed /command: (whether it was one, the reply to show if it has one)."""
    words = inbound.text.strip().split(maxsplit=1)
    if not words:
        return False, None
    name, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    out = io.stdout
    if name == "/premium":
        out.write(await assistant.tiers.summary(inbound.subject) + "\n")
    elif name == "/persona":
        action, _, text = rest.partition(" ")
        if action == "set":
            out.write(await assistant.set_persona(inbound, text) + "\n")
        elif action == "clear":
            out.write(await assistant.set_persona(inbound, None) + "\n")
        else:
            out.write(await assistant.show_persona(inbound) + "\n")
    elif name == "/privacy":
        answer = await assistant.privacy.command(inbound.user_ref, rest, inbound.locale)
        out.write(answer + "\n")
    elif name in ("/remember", "/memory", "/temporary"):
        out.write(str(await assistant.memory.command(inbound)) + "\n")
    elif name == "/ads":
        choice = rest.strip().lower()
        if choice in ("personalize on", "personalize off"):
            user_id = await assistant.store.ensure_user(inbound.platform, inbound.user)
            await assistant.store.set_personalize(user_id, choice.endswith("on"))
            out.write(f"Ad personalisation is {choice.split()[1]}.\n")
        else:
            out.write("Usage: /ads personalize on|off (ads match only your current message "
                      "unless it is on).\n")
    elif name in ("/remind", "/reminders", "/timezone"):
        out.write(str(await assistant.reminders.command(inbound)) + "\n")
    elif name == "/knowledge":
        out.write(await _knowledge(assistant, inbound, rest) + "\n")
    elif name == "/summarize":
        count = int(rest) if rest.strip().isdigit() else 20
        limit = min(count, assistant.settings.summarize_max_messages)
        refusal = await assistant.gate(inbound.subject, "summarize", inbound.locale)
        transcript = "" if refusal else await assistant.transcript(inbound, limit)
        return True, await assistant.run_command(inbound, "summarize", transcript or " ")
    elif name == "/translate":
        language, _, text = rest.partition(" ")
        return True, await assistant.run_command(inbound, "translate", text, language=language)
    else:
        return False, None
    return True, None


async def _deliver_reminders(assistant: Assistant, user: str,
                             io: ConsoleIO) -> asyncio.Task[None]:
    """Print the user's reminders that fell due while no terminal ran (now, before
    anything else), then a task printing the others when they fall due."""
    user_id = await assistant.store.ensure_user("local", user)
    owner = f"terminal:{os.getpid()}"

    async def show(_reminder: object, text: str) -> None:
        io.stdout.write(f"{text}\n")
        io.stdout.flush()

    await assistant.reminders.deliver_due("local", owner, show, user_id)
    return asyncio.create_task(assistant.reminders.run("local", owner, show, user_id))


async def run_chat(assistant: Assistant, user: str, io: ConsoleIO | None = None) -> int:
    """Chat as `local:<user>` until /quit or end of input; return an exit code."""
    io = io or ConsoleIO.from_sys()
    loop = asyncio.get_running_loop()
    reader = _LineReader(io, loop)
    current: list[Reply] = []
    failures = 0  # answers that failed: a script piping into `causette chat` should know

    def interrupt() -> None:
        if current:
            current[0].cancel()
        else:
            io.stdout.write("\n")
            reader._lines.put_nowait(None)

    delivering = await _deliver_reminders(assistant, user, io)
    if io.interactive:
        loop.add_signal_handler(signal.SIGINT, interrupt)
        io.stdout.write(f"Causette: chatting as local:{user}. /help for commands.\n")
        io.stdout.flush()
    try:
        while (line := await reader.next_line()) is not None:
            command = line.strip().lower()
            if command in ("/quit", "/exit"):
                break
            if command == "/help":
                io.stdout.write(HELP + "\n")
            elif command == "/reset":
                await assistant.reset("local", user, CONVERSATION_KEY)
                io.stdout.write("Started a new conversation.\n")
            elif not line.strip() and io.interactive:
                continue
            else:
                try:
                    inbound = Inbound("local", user, CONVERSATION_KEY, line)
                    handled, reply = await _command(assistant, inbound, io)
                    if not handled and command.startswith("/"):
                        io.stdout.write(f"Unknown command {line.split()[0]}; /help lists them.\n")
                    elif not handled:
                        reply = await assistant.handle(inbound)
                    if reply is not None:
                        current[:] = [reply]
                        try:
                            if not await _show(reply, io):
                                failures += 1
                        finally:
                            current.clear()
                        if not handled:
                            await _show_sponsored(assistant, inbound, reply, io)
                            await _show_suggestion(assistant, inbound, reply, io)
                except Exception as exc:  # e.g. the database is locked: say so, go on
                    log.error("could not answer: %s", exc)
                    io.stdout.write(f"[{t('failed', 'en')}]\n")
                    failures += 1
            io.stdout.flush()
    finally:
        delivering.cancel()
        if io.interactive:
            loop.remove_signal_handler(signal.SIGINT)
    return 1 if failures else 0
