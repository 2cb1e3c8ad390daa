"""`python -m bot.web.screenshots OUTDIR`: the README's screenshots of the web console.

A throwaway SQLite database is seeded with two weeks of a small service (users, tiers,
two advertisers with campaigns, impressions and clicks, refused and withheld messages,
answers that took a known time, a model restart, a WhatsApp answer not delivered),
written through the store's public methods only (never SQL), then the console is
served on 127.0.0.1 and Debian's chromium, driven by Playwright, photographs the
overview, campaigns, tiers and an advertiser's campaign page. So the pictures show
what the code renders today, and rerunning this keeps them true.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from bot.money.ads import Ads, CampaignSpec
from bot.money.advertisers import add_advertiser
from bot.money.tiers import Tiers
from bot.store import Store, utc_now
from bot.store.inbound import NewInbound

DAYS = 14
# A demo database only: this token opens nothing else.
DEMO_TOKEN = "demo-operator-token-not-a-secret"
CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that reaches the network or needs a display or a sandbox
# (containers run without user namespaces).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {"overview": "/operator", "campaigns": "/operator/campaigns",
         "tiers": "/operator/tiers"}


def chromium() -> str | None:
    """Debian's chromium, else whichever is on PATH (None: no browser here)."""
    return str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")


class DemoClock:
    """The store's clock: set by hand while seeding past days, then the real time."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed if self.fixed is not None else utc_now()

    def at(self, day: date, hour: int, minute: int = 0) -> None:
        self.fixed = datetime.combine(day, time(hour, minute), UTC)

    def advance(self, seconds: float) -> None:
        assert self.fixed is not None
        self.fixed += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Demo:
    """What the seeding made that the screenshots need."""

    advertiser_token: str
    campaign_id: int


def demo_settings(database: Path) -> Settings:
    """Settings for the demo alone: no .env read, no DATABASE_URL, so whatever the
    machine is configured for, nothing but the throwaway SQLite file is written."""
    return Settings(_env_file=None, database_url=None, database_path=database,  # type: ignore[call-arg]
                    web_admin_token=SecretStr(DEMO_TOKEN), web_host="127.0.0.1")


def _spec(advertiser: str, headline: str, keywords: list[str], budget: str,
          first: date) -> CampaignSpec:
    return CampaignSpec.model_validate({
        "advertiser": advertiser, "headline": headline, "body": "Tonight only.",
        "url": f"https://{advertiser.lower()}.example/offer", "keywords": keywords,
        "cpm": "5", "budget": budget, "start": first, "end": first + timedelta(days=45)})


async def seed(store: Store, settings: Settings, clock: DemoClock,
               today: date | None = None) -> Demo:
    """Two weeks of activity up to `today`, through the store's public methods."""
    today = today or utc_now().date()
    first = today - timedelta(days=DAYS - 1)
    clock.at(first, 8)
    tiers = Tiers(settings, store)
    await tiers.grant("user", "discord:181818", "plus", by="operator:demo", days=30,
                      reason="early supporter")
    await tiers.grant("user", "whatsapp:33612345678", "pro", by="operator:demo",
                      reason="support ticket 12")
    await tiers.grant("guild", "discord:424242", "plus", by="operator:demo", days=60,
                      reason="community partner")
    trattoria, token = await add_advertiser(store, "Trattoria", actor="operator:demo")
    bookshop, _ = await add_advertiser(store, "Bookshop", actor="operator:demo")
    ads = Ads(settings, store)
    pasta, wine = await ads.add([
        _spec("Trattoria", "Fresh pasta tonight", ["pasta", "cook*"], "80", first),
        _spec("Trattoria", "Wine pairing evening", ["wine", "dinner"], "40", first)],
        actor="operator:demo", advertiser_id=trattoria.id)
    [books] = await ads.add([_spec("Bookshop", "Crime novels, 3 for 2", ["book*", "read*"],
                                   "60", first)], actor="operator:demo",
                            advertiser_id=bookshop.id)
    users = [await store.ensure_user(platform, name) for platform, name in (
        ("local", "ada"), ("discord", "181818"), ("discord", "272727"),
        ("whatsapp", "33612345678"), ("local", "bob"), ("discord", "363636"))]
    for offset in range(DAYS):
        day = first + timedelta(days=offset)
        # A service that grows: more people and answers each week, a little faster.
        active = users[: 2 + min(len(users) - 2, offset // 3)]
        for n, user in enumerate(active):
            conversation = await store.open_conversation(user, f"demo-{offset % 3}")
            for turn in range(1 + (offset + n) % 3):
                clock.at(day, 9 + n, 5 * turn)
                await store.add_message(conversation, "user", "a question")
                answer = await store.add_message(conversation, "assistant", "",
                                                 status="streaming")
                tokens = 60 + 37 * ((offset + n + turn) % 5)
                clock.advance(tokens / (18 + offset * 0.8 + n))  # tokens/s rising
                await store.finish_message(answer, "an answer", "complete",
                                           completion_tokens=tokens,
                                           first_token_ms=140 + 45 * ((n + turn) % 4),
                                           queue_depth=(offset + n + turn) % 3)
            if (offset + n) % 5 == 0:
                await store.add_message(conversation, "user", "a refused question",
                                        status="refused", moderation="harassment")
            if (offset + n) % 9 == 4:
                await store.add_message(conversation, "assistant", "withheld",
                                        status="moderated", moderation="violence")
            for campaign in (pasta, wine, books)[: 1 + (offset + n) % 3]:
                impression = await store.charge_impression(
                    campaign, 5_000, user_id=user, platform="discord", matched="pasta",
                    day=day.isoformat())
                if impression is not None and (offset * n + campaign) % 4 == 0:
                    await store.record_click(impression)
    clock.at(today, 7, 30)
    await store.record_event("engine_stopped", "the worker thread died")
    clock.advance(4)
    await store.record_event("engine_restarted", "attempt 1 of 3")
    await store.accept_inbound("whatsapp", [NewInbound(
        "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUQ", "33612345678", "PNID", "text",
        "a question")], owner="demo", lease_s=60)
    await store.finish_inbound("whatsapp", "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUQ",
                               owner="demo", status="failed",
                               error="Graph API failed 4 times (last: HTTP 503)")
    clock.fixed = None  # from here on, the real time (sessions, "today")
    return Demo(token, pasta)


async def _shoot(base: str, demo: Demo, out: Path, executable: str,
                 log: Callable[[str], None]) -> list[Path]:
    from playwright.async_api import async_playwright

    shots: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable,
                                                   args=CHROMIUM_ARGS)
        try:
            for token, pages in (
                    (DEMO_TOKEN, PAGES),
                    (demo.advertiser_token,
                     {"advertiser-campaign": f"/advertiser/campaigns/{demo.campaign_id}"})):
                context = await browser.new_context(viewport={"width": 1100, "height": 800})
                page = await context.new_page()
                await page.goto(f"{base}/login")
                await page.fill("input[name=token]", token)
                await page.click("button[type=submit]")
                for name, path in pages.items():
                    await page.goto(base + path, wait_until="load")  # charts included
                    shot = out / f"{name}.png"
                    await page.screenshot(path=str(shot), full_page=True)
                    log(f"wrote {shot}")
                    shots.append(shot)
                await context.close()
        finally:
            await browser.close()
    return shots


async def make_screenshots(out: Path, *, log: Callable[[str], None] = print) -> list[Path]:
    """Seed a demo database in a temporary folder, serve the console, photograph it."""
    from aiohttp import web

    from bot.web.app import build_app

    executable = chromium()
    if executable is None:
        raise SystemExit("no chromium: sudo apt-get install chromium (or ./setup.sh dev)")
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="causette-demo-") as folder:
        settings = demo_settings(Path(folder) / "demo.db")
        clock = DemoClock()
        store = await Store.open(settings.database_path, clock=clock)
        try:
            demo = await seed(store, settings, clock)
            runner = web.AppRunner(build_app(settings, store), access_log=None)
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)  # any free port
                await site.start()
                host, port = runner.addresses[0][:2]
                return await _shoot(f"http://{host}:{port}", demo, out, executable, log)
            finally:
                await runner.cleanup()
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.web.screenshots [OUTDIR]` (default docs/screenshots)."""
    parser = argparse.ArgumentParser(prog="python -m bot.web.screenshots",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    asyncio.run(make_screenshots(args.out, log=lambda line: print(line, file=sys.stderr)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
