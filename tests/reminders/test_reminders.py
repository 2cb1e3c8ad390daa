"""Reminders read by code (English, French, time zones), confirmed with the exact time,
listed, cancelled, limited per tier, and delivered in the terminal (late ones at start,
saying how late), through the real model's runtime."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.console import ConsoleIO, run_chat
from bot.pipeline.replies import Inbound
from bot.pipeline.runtime import Runtime
from bot.reminders import duration, is_reminder_request, parse_reminder

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # a Friday, 18:00 in Paris
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(("text", "locale", "local", "task"), [
    ("remind me tomorrow at 9 to call the bank", "en", "2026-12-05 09:00", "call the bank"),
    ("remind me tomorrow at 10 to call the bank", "en", "2026-12-05 10:00", "call the bank"),
    ("Remind me in 2 hours to stretch", "en", "2026-12-04 20:00", "stretch"),
    ("remind me to water the plants on December 25 at 10:30", "en", "2026-12-25 10:30",
     "water the plants"),
    ("remind me next friday at 3pm: call mum", "en", "2026-12-11 15:00", "call mum"),
    ("rappelle-moi dans 2 heures de sortir le chien", "fr", "2026-12-04 20:00",
     "sortir le chien"),
    ("rappelle-moi demain à 9h d'appeler la banque", "fr", "2026-12-05 09:00",
     "appeler la banque"),
    ("Rappelle-moi le 25 décembre à 10h30 d'acheter du pain", "fr", "2026-12-25 10:30",
     "acheter du pain"),
])
def test_parsing_in_the_users_zone(text: str, locale: str, local: str, task: str) -> None:
    assert is_reminder_request(text)
    parsed = parse_reminder(text, NOW, PARIS, locale)
    assert parsed is not None
    assert f"{parsed.due.astimezone(PARIS):%Y-%m-%d %H:%M}" == local
    assert parsed.task == task
    assert parsed.due.tzinfo is not None


def test_the_zone_changes_the_moment_and_no_time_is_none() -> None:
    paris = parse_reminder("remind me tomorrow at 9 to call", NOW, PARIS)
    york = parse_reminder("remind me tomorrow at 9 to call", NOW, ZoneInfo("America/New_York"))
    assert paris is not None and york is not None
    assert york.due - paris.due == timedelta(hours=6)
    assert parse_reminder("remind me to buy milk", NOW, PARIS) is None
    assert not is_reminder_request("what can you remind me of?")
    assert duration(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert duration(timedelta(days=3, hours=4, minutes=9)) == "3 d 4 h"
    assert duration(timedelta(seconds=40)) == "40 s"


async def test_reminders_in_the_terminal_through_the_real_model(runtime: Runtime) -> None:
    store, assistant = runtime.store, runtime.assistant
    ada = await store.ensure_user("local", "ada")
    # Due while no terminal ran: shown at start, saying how late.
    await store.add_reminder(ada, "local", "terminal", "feed the cat",
                             store.now() - timedelta(hours=2, minutes=5), "UTC", "en", limit=5)
    out = io.StringIO()
    stdin = io.StringIO(
        "/timezone Mars/Olympus\n/timezone Europe/Paris\n"
        "remind me tomorrow at 9 to call the bank\n"
        "/remind in 3 hours to stretch\n/remind to buy milk\n/reminders\n"
        "/reminders cancel 2\n/reminders\nHello there\n")
    code = await run_chat(assistant, "ada", ConsoleIO(stdin, out, interactive=False))
    assert code == 0
    shown = out.getvalue().splitlines()
    assert shown[0] == "⏰ Reminder: feed the cat (late by 2 h 5 min)"
    assert shown[1].startswith("I don't know the time zone Mars/Olympus")
    assert shown[2].startswith("Your time zone is now Europe/Paris")
    tomorrow = (store.now().astimezone(PARIS) + timedelta(days=1)).date()
    assert shown[3] == (f"⏰ I'll remind you on {tomorrow} 09:00 (Europe/Paris): "
                        "call the bank")
    assert shown[4].startswith("⏰ I'll remind you on ") and shown[4].endswith(": stretch")
    assert shown[5].startswith("I couldn't find when in that")
    listed = "\n".join(shown)
    assert "Your reminders to come:" in listed and "Cancelled: " in listed
    coming = await store.reminders(ada)
    assert len(coming) == 1  # one of the two was cancelled
    turns = await assistant.history("local", "ada", "terminal")
    assert [t.content for t in turns if t.role == "user"] == ["Hello there"]  # no model turn
    assert turns[-1].status == "complete"  # the real model answered the plain message


async def test_per_tier_limit_and_a_reminder_in_words_anywhere(runtime: Runtime) -> None:
    assistant = runtime.assistant
    limit = assistant.tiers.get("free").spec.reminders
    inbound = Inbound("discord", "7", "dm", "remind me in 2 hours to stretch")
    for _ in range(limit):
        reply = await assistant.handle(inbound)
        assert reply.refusal is not None and reply.refusal.startswith("⏰ I'll remind you")
    over = await assistant.handle(inbound)
    assert over.refusal is not None and f"already have {limit} reminders" in over.refusal
    french = await assistant.handle(Inbound("discord", "8", "dm",
                                            "rappelle-moi dans 2 heures de m'étirer",
                                            locale="fr"))
    assert french.refusal is not None
    assert french.refusal.startswith("⏰ Je vous le rappellerai le ")
    assert "(Europe/Paris) : m'étirer" in french.refusal
    # WhatsApp delivers no reminder yet: it says so instead of promising one.
    whatsapp = await assistant.handle(Inbound("whatsapp", "33612345678", "whatsapp",
                                              "remind me in 2 hours to stretch"))
    assert whatsapp.refusal is not None and "24 hours" in whatsapp.refusal
    user = await runtime.store.ensure_user("whatsapp", "33612345678")
    assert await runtime.store.reminders(user) == []
