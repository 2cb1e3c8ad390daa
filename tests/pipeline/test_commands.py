"""One typed-command router for the terminal and WhatsApp: one table of commands and
their answers, in English and French, checked through the router and through both
surfaces (the terminal's piped chat, and the WhatsApp webhook on a real aiohttp server
with its Graph stand-in)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from bot.config import Settings
from bot.console import ConsoleIO, run_chat
from bot.locales import t
from bot.pipeline.assistant import Assistant
from bot.pipeline.commands import COMMANDS, TERMINAL_ONLY, run_typed
from bot.pipeline.replies import Inbound
from tests.support.fakes import FakeEngine
from tests.support.whatsapp import delivery, text
from tests.test_whatsapp import start

Expected = Callable[[Assistant, str], str]

# (what is typed, what it answers in a locale), in an order that a fresh user can run.
TABLE: list[tuple[str, Expected]] = [
    ("/help", lambda a, loc: t("typed_help", loc)),
    ("/HELP", lambda a, loc: t("typed_help", loc)),
    ("/reset", lambda a, loc: t("reset_done", loc)),
    ("/memory", lambda a, loc: t("memory_none", loc)),
    ("/memory sideways", lambda a, loc: t("memory_usage", loc)),
    ("/remember", lambda a, loc: t("memory_empty", loc)),
    ("/temporary", lambda a, loc: t("temporary_usage", loc)),
    ("/ads", lambda a, loc: t("ads_usage", loc)),
    ("/ads personalize on", lambda a, loc: t("ads_personalize_on", loc)),
    ("/ads personalize off", lambda a, loc: t("ads_personalize_off", loc)),
    ("/persona", lambda a, loc: a.tiers.gate_message("persona", loc)),
    ("/persona set Speak like a pirate", lambda a, loc: a.tiers.gate_message("persona", loc)),
    ("/bogus now", lambda a, loc: t("unknown_command", loc, name="/bogus")),
]

FRENCH_NUMBER, ENGLISH_NUMBER = "33612345678", "447700900123"


def test_every_command_of_the_router_is_in_its_help() -> None:
    for locale in ("en", "fr"):
        listed = {line.split()[0] for line in t("typed_help", locale).splitlines()
                  if line.startswith("/")}
        assert listed == set(COMMANDS) - TERMINAL_ONLY
        terminal = {line.split()[0] for line in t("typed_help_terminal", locale).splitlines()
                    if line.startswith("/")}
        assert terminal == TERMINAL_ONLY | {"/quit"}


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_the_router_answers_the_table(settings: Settings, locale: str) -> None:
    async for wa in start(settings, FakeEngine()):
        assistant = wa.runtime.assistant
        for typed, expected in TABLE:
            inbound = Inbound("local", f"table-{locale}", "terminal", typed, locale=locale)
            answer = await run_typed(assistant, inbound)
            assert answer is not None and answer.text == expected(assistant, locale), typed
        question = Inbound("local", "x", "terminal", "What is 2 + 2?", locale=locale)
        assert await run_typed(assistant, question) is None  # a question, not a command


async def test_the_terminal_and_whatsapp_answer_the_table_alike(settings: Settings) -> None:
    async for wa in start(settings, FakeEngine()):
        assistant = wa.runtime.assistant
        out = io.StringIO()
        piped = io.StringIO("".join(f"{typed}\n" for typed, _ in TABLE))
        assert await run_chat(assistant, "ada", ConsoleIO(piped, out, interactive=False)) == 0
        terminal = out.getvalue()
        for number, locale in ((ENGLISH_NUMBER, "en"), (FRENCH_NUMBER, "fr")):
            for n, (typed, expected) in enumerate(TABLE):
                assert await wa.post(delivery(text(f"wamid.{locale}{n}", typed,
                                                   sender=number))) == 200
                assert wa.graph.texts()[-1] == expected(assistant, locale), typed
                if locale == "en":
                    assert expected(assistant, "en") in terminal, typed
        # The terminal's own: /help says how to leave it.
        assert t("typed_help_terminal", "en") in terminal


async def test_knowledge_add_reads_no_file_for_a_remote_user(settings: Settings) -> None:
    async for wa in start(settings, FakeEngine()):
        assistant = wa.runtime.assistant
        typed = "/knowledge add /etc/hostname"
        remote = Inbound("whatsapp", "33612345678", "wa", typed, locale="fr")
        answer = await run_typed(assistant, remote)
        assert answer is not None
        assert answer.text == t("unknown_command", "fr", name="/knowledge")
        assert await assistant.knowledge.listing("whatsapp", "fr") == await \
            assistant.knowledge.listing("empty-space", "fr")  # nothing was added
        local = Inbound("local", "ada", "terminal", typed, locale="en")
        added = await run_typed(assistant, local)
        assert added is not None and added.text != t("unknown_command", "en",
                                                     name="/knowledge")
