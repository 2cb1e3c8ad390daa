"""Sponsored replies: campaign files, the eligibility matrix, pacing, budgets under
concurrency, clicks, reports, and independence from the answer (real model)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.console import ConsoleIO, run_chat
from bot.money.ads import (
    AdContext,
    Ads,
    CampaignFileError,
    CampaignSpec,
    parse_campaigns,
)
from bot.money.tiers import Tiers
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import open_runtime
from bot.web.charts import render_chart
from tests.support.clock import Clock, StoreOpener

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "campaigns.toml"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def ads(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch,
              open_store: StoreOpener) -> Ads:
    monkeypatch.chdir(tmp_path)
    store = await open_store(clock)  # SQLite and PostgreSQL
    return Ads(load_settings(ads_every_n_replies=3, ads_max_per_day=2), store)


def spec(**overrides: object) -> CampaignSpec:
    values: dict[str, object] = {
        "advertiser": "Pasta Bella", "headline": "Fresh pasta, delivered",
        "body": "At your door in 30 minutes.", "url": "https://pasta.example/order",
        "keywords": ["pasta", "spaghetti"], "languages": ["en", "fr"], "cpm": Decimal("5.00"),
        "budget": Decimal("10.00"), "start": date(2026, 1, 1), "end": date(2026, 12, 31)}
    values.update(overrides)
    return CampaignSpec.model_validate(values)


async def user_with_replies(ads: Ads, name: str, replies: int) -> int:
    store = ads.store
    user = await store.ensure_user("local", name)
    conversation = await store.open_conversation(user, "t")
    for _ in range(replies):
        await store.add_message(conversation, "assistant", "an answer")
    return user


def context(ads: Ads, user: int, *, tier: str = "free", message: str = "How do I cook pasta?",
            answer: str = "Boil water, add pasta.", platform: str = "local",
            locale: str = "en", guild: str | None = None) -> AdContext:
    return AdContext(platform, user, Tiers(ads.settings, ads.store).get(tier), message, answer,
                     locale, guild)


# Campaign files ----------------------------------------------------------------------

def test_the_example_file_is_valid() -> None:
    specs = parse_campaigns(EXAMPLE.read_text())
    assert [s.advertiser for s in specs] == ["Pasta Bella", "Page Turner Books"]
    assert specs[0].cpm == Decimal("5.00") and specs[1].daily_budget == Decimal("2.00")


@pytest.mark.parametrize(("change", "expected"), [
    ('url = "ftp://pasta.example"', "url: .*http"),
    ('url = "javascript:alert(1)"', "url"),
    ("budget = 0", "budget"),
    ("cpm = -1", "cpm"),
    ("keywords = []", "keywords and/or categories"),
    ("end = 2025-01-01", "end is before start"),
    ('categories = ["gambling"]', "unknown categories"),
    ('languages = ["english"]', "two-letter"),
    ('headline = "' + "x" * 200 + '"', "headline"),
    ('surprise = "field"', "surprise"),
])
def test_invalid_campaigns_give_clear_errors(change: str, expected: str) -> None:
    text = EXAMPLE.read_text().split("[[campaign]]")[1]
    key = change.split(" =")[0]
    lines = [line for line in text.splitlines() if not line.startswith(f"{key} ")]
    broken = "[[campaign]]\n" + "\n".join(lines) + f"\n{change}\n"
    with pytest.raises(CampaignFileError, match=rf"campaign 1 \(Pasta Bella\): .*{expected}"):
        parse_campaigns(broken, "demo.toml")


@pytest.mark.parametrize("url", [
    "http://x.example/\nSet-Cookie:a=b", "http://x.example/\r\nLocation: evil",
    'https://x.example/"><b>', "https://x.example/a b", "https://x.example/\u2028x",
    "https://x.example/\x00", "javascript:alert(1)//http://", "ftp://x.example/file",
    "https:///path-only", "https://x.example:port/",
])
def test_campaign_urls_are_real_addresses(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        spec(url=url)


def test_not_toml_and_empty_files() -> None:
    with pytest.raises(CampaignFileError, match="not valid TOML"):
        parse_campaigns("[[campaign]\nadvertiser=", "x.toml")
    with pytest.raises(CampaignFileError, match="no \\[\\[campaign\\]\\]"):
        parse_campaigns("title = 'nothing'", "x.toml")


# Eligibility -------------------------------------------------------------------------

async def test_free_user_gets_the_matching_ad(ads: Ads) -> None:
    await ads.add([spec()], actor="op")
    user = await user_with_replies(ads, "bob", 1)
    offer = await ads.choose(context(ads, user))
    assert offer is not None and offer.matched == ("pasta",)
    assert offer.cost_micros == 5_000  # 5.00 per 1,000
    block = ads.block(offer)
    assert block.startswith("Sponsored · Pasta Bella") and "matched \"pasta\"" in block
    assert "free tier" in block


@pytest.mark.parametrize(("case", "kwargs"), [
    ("premium", {"tier": "plus"}),
    ("sensitive message", {"message": "My headache is awful; also, pasta?"}),
    ("sensitive message fr", {"message": "Je suis déprimé, des pâtes ?", "locale": "fr"}),
    ("sensitive answer", {"answer": "See a doctor about that pasta."}),
    ("no match", {"message": "Tell me about the moon."}),
    ("other language", {"locale": "de"}),
    ("discord server never chose", {"platform": "discord", "guild": "42"}),
    ("discord dm", {"platform": "discord"}),
])
async def test_no_ad_when(ads: Ads, case: str, kwargs: dict) -> None:
    await ads.add([spec(keywords=["pasta", "pates"])], actor="op")
    user = await user_with_replies(ads, "bob", 1)
    assert await ads.choose(context(ads, user, **kwargs)) is None, case


async def test_server_switch(ads: Ads) -> None:
    await ads.add([spec()], actor="op")
    user = await user_with_replies(ads, "bob", 1)
    ctx = context(ads, user, platform="discord", guild="42")
    assert await ads.placement_blocked(ctx) == "server off"
    await ads.store.set_guild_ads("42", True, "discord:1")
    assert await ads.choose(ctx) is not None
    await ads.store.set_guild_ads("42", False, "discord:1")
    assert await ads.placement_blocked(ctx) == "server off"


async def test_surface_settings(ads: Ads) -> None:
    await ads.add([spec()], actor="op")
    user = await user_with_replies(ads, "bob", 1)
    ads.settings = ads.settings.model_copy(update={"ads_terminal": False,
                                                   "ads_discord_default": True})
    assert await ads.choose(context(ads, user)) is None
    assert await ads.choose(context(ads, user, platform="discord", guild="7")) is not None


async def test_frequency_and_daily_caps(ads: Ads, clock: Clock) -> None:
    await ads.add([spec()], actor="op")
    store = ads.store
    user = await user_with_replies(ads, "bob", 1)
    shown = []
    for reply in range(1, 10):
        offer = await ads.choose(context(ads, user))
        if offer is not None:
            assert await ads.delivered(offer) is not None
            shown.append(reply)
        conversation = await store.open_conversation(user, "t")
        clock.now = clock.now.replace(second=(clock.now.second + 1) % 60)
        await store.add_message(conversation, "assistant", "next answer")
    assert shown == [1, 4]  # first eligible reply, then one per 3 replies, 2 a day at most
    clock.now = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    assert await ads.choose(context(ads, user)) is not None  # a new day


async def test_dates_status_and_budget(ads: Ads, clock: Clock) -> None:
    [campaign_id] = await ads.add([spec(start=date(2026, 7, 1))], actor="op")
    user = await user_with_replies(ads, "bob", 1)
    assert await ads.choose(context(ads, user)) is None  # not started
    clock.now = datetime(2026, 7, 2, tzinfo=UTC)
    assert await ads.choose(context(ads, user)) is not None
    assert await ads.pause(campaign_id, "op")
    assert await ads.choose(context(ads, user)) is None
    assert await ads.resume(campaign_id, "op")
    clock.now = datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert await ads.choose(context(ads, user)) is None
    campaign = await ads.store.campaign(campaign_id)
    assert campaign is not None and campaign.status == "ended"


async def test_pacing_keeps_a_budget_for_the_whole_flight(ads: Ads, clock: Clock) -> None:
    # A one-day-per-month flight is not needed: 10 days, budget for 20 impressions.
    [campaign_id] = await ads.add([spec(start=date(2026, 6, 1), end=date(2026, 6, 10),
                                        budget=Decimal("0.10"))], actor="op")
    clock.now = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # ~0.4% into the flight
    charged = 0
    for n in range(20):
        user = await user_with_replies(ads, f"u{n}", 1)
        offer = await ads.choose(context(ads, user))
        if offer is not None and await ads.delivered(offer) is not None:
            charged += 1
    assert charged == 1  # the first impression, then not the whole budget in the first hour
    clock.now = datetime(2026, 6, 6, 0, 0, tzinfo=UTC)  # halfway: may catch up to ~half
    for n in range(20, 40):
        user = await user_with_replies(ads, f"u{n}", 1)
        offer = await ads.choose(context(ads, user))
        if offer is not None and await ads.delivered(offer) is not None:
            charged += 1
    campaign = await ads.store.campaign(campaign_id)
    assert campaign is not None
    assert 0.45 <= campaign.spent_micros / campaign.budget_micros <= 0.55


async def test_fifty_concurrent_deliveries_never_overspend(ads: Ads) -> None:
    [campaign_id] = await ads.add([spec(budget=Decimal("0.05"))], actor="op")  # 10 impressions
    ads.settings = ads.settings.model_copy(update={"ads_pacing_slack": 1.0})
    offers = []
    for n in range(50):
        user = await user_with_replies(ads, f"u{n}", 1)
        offer = await ads.choose(context(ads, user))
        assert offer is not None
        offers.append(offer)
    results = await asyncio.gather(*(ads.delivered(o) for o in offers))
    assert sum(r is not None for r in results) == 10
    campaign = await ads.store.campaign(campaign_id)
    assert campaign is not None
    assert campaign.spent_micros == campaign.budget_micros == 50_000
    assert campaign.status == "exhausted"
    assert [r.impressions for r in await ads.report()] == [10]


@pytest.mark.parametrize(("max_at_delivery", "expected"), [(2, 1), (0, 0)])
async def test_thirty_concurrent_deliveries_to_one_user_keep_the_caps(
        ads: Ads, open_store: StoreOpener, clock: Clock, max_at_delivery: int,
        expected: int) -> None:
    """Every offer is chosen first (each passes the caps: nothing is charged yet), then
    all are delivered at once, through three connections (three processes' worth)."""
    [campaign_id] = await ads.add([spec(budget=Decimal("100"))], actor="op")
    settings = ads.settings.model_copy(update={"ads_pacing_slack": 1.0})
    ads.settings = settings
    user = await user_with_replies(ads, "bob", 1)
    offers = [await ads.choose(context(ads, user)) for _ in range(30)]
    assert all(offer is not None for offer in offers)
    # ADS_MAX_PER_DAY as it is when the charge happens (0: none may be charged).
    settings = settings.model_copy(update={"ads_max_per_day": max_at_delivery})
    deliverers = [Ads(settings, ads.store)] + [
        Ads(settings, await open_store(clock)) for _ in range(2)]
    results = await asyncio.gather(*(deliverers[n % 3].delivered(offer)  # type: ignore[arg-type]
                                     for n, offer in enumerate(offers)))
    assert sum(r is not None for r in results) == expected
    today, _, _ = await ads.store.ad_counters(user, offers[0].day)  # type: ignore[union-attr]
    assert today == expected
    campaign = await ads.store.campaign(campaign_id)
    assert campaign is not None and campaign.spent_micros == expected * 5_000


async def test_daily_budget(ads: Ads) -> None:
    await ads.add([spec(daily_budget=Decimal("0.01"))], actor="op")  # 2 a day
    ads.settings = ads.settings.model_copy(update={"ads_pacing_slack": 1.0})
    charged = 0
    for n in range(5):
        user = await user_with_replies(ads, f"u{n}", 1)
        offer = await ads.choose(context(ads, user))
        if offer is not None and await ads.delivered(offer) is not None:
            charged += 1
    assert charged == 2


async def test_clicks_count_once_and_reports_match_rows(ads: Ads) -> None:
    await ads.add([spec()], actor="op")
    impressions = []
    for n in range(3):
        user = await user_with_replies(ads, f"u{n}", 1)
        offer = await ads.choose(context(ads, user))
        assert offer is not None
        impressions.append(await ads.delivered(offer))
    assert await ads.click(impressions[0]) == (True, "https://pasta.example/order")
    assert await ads.click(impressions[0]) == (False, "https://pasta.example/order")
    assert await ads.click(99999) == (False, None)
    [report] = await ads.report()
    figures = report.as_dict()
    assert (figures["impressions"], figures["clicks"]) == (3, 1)
    assert figures["spent"] == "0.015" and figures["remaining"] == "9.985"
    assert figures["days"] == [{"day": "2026-06-01", "impressions": 3, "clicks": 1,
                                "spent": "0.015"}]
    assert round(report.ctr, 3) == 0.333
    png = render_chart(await ads.report())
    assert png.startswith(b"\x89PNG")


async def test_personalisation_needs_consent(ads: Ads) -> None:
    await ads.add([spec()], actor="op")
    user = await user_with_replies(ads, "bob", 1)
    ctx = AdContext("local", user, Tiers(ads.settings, ads.store).free, "What's for dinner?",
                    "Something nice.", "en", None, history="I love spaghetti")
    assert await ads.choose(ctx) is None  # history ignored without consent
    await ads.store.set_personalize(user, True)
    offer = await ads.choose(ctx)
    assert offer is not None and offer.personalised and "conversation" in ads.why(offer)


# Through the real model ------------------------------------------------------------------

async def test_the_ad_never_changes_the_answer(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        assistant = runtime.assistant
        await assistant.ads.add([spec(start=date(2026, 1, 1), end=date(2030, 1, 1))],
                                actor="op")
        await assistant.tiers.grant("user", "local:vip", "plus", by="op")
        texts, offers = {}, {}
        for user in ("bob", "vip"):
            reply = await assistant.handle(Inbound("local", user, "t", "How do I cook pasta?"))
            texts[user] = (await reply.outcome()).text
            offers[user] = await assistant.sponsored(Inbound("local", user, "t",
                                                             "How do I cook pasta?"), reply)
            assert reply.generation is not None
            prompt = " ".join(m.content for m in reply.generation.messages)
            assert "Pasta Bella" not in prompt and "Sponsored" not in prompt
        assert texts["bob"] == texts["vip"] and texts["bob"]
        assert offers["bob"] is not None and offers["vip"] is None
        assert "Pasta Bella" not in texts["bob"]


async def test_terminal_block_after_the_answer(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        await runtime.assistant.ads.add([spec(end=date(2030, 1, 1))], actor="op")
        out = io.StringIO()
        await run_chat(runtime.assistant, "bob",
                       ConsoleIO(io.StringIO("How do I cook pasta?\n"), out, False))
        answer, _, block = out.getvalue().partition("\nSponsored · ")
        assert answer.strip() and block.startswith("Pasta Bella\nFresh pasta, delivered")
        [report] = await runtime.assistant.ads.report()
        assert report.impressions == 1 and report.campaign.spent_micros == 5_000
