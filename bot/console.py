"""The terminal chat: the same pipeline as every surface, no token, no network.

Typed commands are the ones WhatsApp has (bot/pipeline/commands.py); only /quit is the
terminal's own."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from bot.locales import t
from bot.pipeline.assistant import Assistant, Inbound, Reply
from bot.pipeline.commands import run_typed

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
            if command == "/help":  # the shared help, and how to leave the terminal
                io.stdout.write(t("typed_help", "en") + "\n" + t("typed_help_terminal", "en")
                                + "\n")
            elif not line.strip() and io.interactive:
                continue
            else:
                try:
                    inbound = Inbound("local", user, CONVERSATION_KEY, line)
                    answer = await run_typed(assistant, inbound)
                    if answer is not None and answer.text is not None:
                        io.stdout.write(answer.text + "\n")
                    reply = answer.reply if answer is not None else await assistant.handle(
                        inbound)
                    if reply is not None:
                        current[:] = [reply]
                        try:
                            if not await _show(reply, io):
                                failures += 1
                        finally:
                            current.clear()
                        if answer is None:  # a chat answer, not a command's
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
