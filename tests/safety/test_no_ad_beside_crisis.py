"""Never an ad beside a crisis (issue 24): on the terminal, on Discord and on WhatsApp, a
crisis message gets the crisis opening and no sponsored block, no impression row and no
charge; the same campaign still serves an ordinary message (the control), so the test
fails if ads were simply off. The ads' self-harm exclusion holds every crisis pattern."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import discord
import discord.ext.test as dpytest
import pytest

from bot.config import Settings
from bot.console import ConsoleIO, run_chat
from bot.discord_app import CausetteBot
from bot.money.ads import CampaignSpec
from bot.pipeline.runtime import Runtime
from bot.safety.crisis import detect_crisis
from bot.safety.topics import sensitive_topics
from tests.support.discord_flows import slash
from tests.support.fakes import FakeEngine
from tests.support.whatsapp import delivery, text
from tests.test_whatsapp import Harness, start

PASTA_CRISIS_EN = "I'm better off dead. I can't even cook pasta anymore"
PASTA_CRISIS_FR = "je veux mourir, je n'arrive même plus à cuisiner des pâtes"


def pasta() -> CampaignSpec:
    return CampaignSpec(advertiser="Pasta Bella", headline="Fresh pasta", body="",
                        url="https://pasta.example", keywords=["pasta", "pâtes"],
                        cpm=Decimal("5"), budget=Decimal("10"), start=date(2020, 1, 1),
                        end=date(2099, 1, 1))


async def impressions(runtime: Runtime, user_ref: str) -> list[object]:
    return list((await runtime.store.export_user(user_ref))["ad_impressions"])  # type: ignore[arg-type]


async def spent_micros(runtime: Runtime) -> int:
    [report] = await runtime.assistant.ads.report()
    return report.campaign.spent_micros


def test_the_ads_exclusion_contains_every_crisis_the_detector_answers() -> None:
    data = Path(__file__).resolve().parent.parent / "data" / "safety" / "crisis.jsonl"
    texts = [json.loads(line)["text"] for line in data.read_text("utf-8").splitlines()]
    crises = [t for t in [*texts, PASTA_CRISIS_EN, PASTA_CRISIS_FR] if detect_crisis(t)]
    assert len(crises) > 300
    assert [t for t in crises if "self_harm" not in sensitive_topics(t)] == []


async def test_terminal_crisis_gets_no_ad_and_no_charge(runtime: Runtime) -> None:
    """Through the real model, as `causette chat` runs it."""
    await runtime.assistant.ads.add([pasta()], actor="op")

    async def chat(user: str, line: str) -> str:
        out = io.StringIO()
        await run_chat(runtime.assistant, user, ConsoleIO(io.StringIO(line + "\n"), out,
                                                          interactive=False))
        return out.getvalue()

    control = await chat("bob", "How do I cook pasta?")
    assert "Sponsored · Pasta Bella" in control and await spent_micros(runtime) == 5_000
    said = await chat("ada", PASTA_CRISIS_EN)
    assert "I'm really sorry" in said and "988" in said
    assert "Sponsored" not in said
    assert await impressions(runtime, "local:ada") == []
    assert await spent_micros(runtime) == 5_000  # bob's impression only


@pytest.fixture
async def wa(settings: Settings) -> AsyncIterator[Harness]:
    async for harness in start(settings, FakeEngine()):
        yield harness


async def test_whatsapp_crisis_from_france_gets_no_ad_and_no_charge(wa: Harness) -> None:
    await wa.runtime.assistant.ads.add([pasta()], actor="op")
    await wa.post(delivery(text("wamid.P1", "How do I cook pasta?", sender="15550001111")))
    assert wa.graph.texts()[-1].startswith("Sponsored · Pasta Bella")
    assert await spent_micros(wa.runtime) == 5_000
    sent = len(wa.graph.texts())
    await wa.post(delivery(text("wamid.P2", PASTA_CRISIS_FR, sender="33612345678")))
    answer = wa.graph.texts()[sent:]
    assert answer and "3114" in answer[0]
    assert not any(t.startswith("Sponsored") for t in answer)
    assert await impressions(wa.runtime, "whatsapp:33612345678") == []
    assert await spent_micros(wa.runtime) == 5_000


def drain() -> list[discord.Message]:
    messages = []
    while not dpytest.verify().message().nothing():
        messages.append(dpytest.get_message())
    return messages


async def test_discord_crisis_gets_no_ad_and_no_charge(bot: CausetteBot) -> None:
    await bot.runtime.assistant.ads.add([pasta()], actor="op")
    config = dpytest.get_config()
    channel, admin, member = config.channels[0], config.members[0], config.members[1]
    await slash(bot, admin, channel, "enable", group="sponsors",
                permissions=discord.Permissions(manage_guild=True))
    drain()
    await dpytest.message(f"<@{bot.user.id}> How do I cook pasta?", channel, admin)
    assert [bool(m.embeds) for m in drain()] == [False, True]  # the control: an ad
    assert await spent_micros(bot.runtime) == 5_000
    await dpytest.message(f"<@{bot.user.id}> {PASTA_CRISIS_EN}", channel, member)
    messages = drain()
    assert messages and not any(m.embeds for m in messages)
    assert await impressions(bot.runtime, f"discord:{member.id}") == []
    assert await spent_micros(bot.runtime) == 5_000
