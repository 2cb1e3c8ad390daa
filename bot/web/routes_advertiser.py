"""Advertiser pages: its own campaigns only, their figures per day (table, chart, CSV),
pause/resume, and what it cannot buy. Any other campaign id answers 404, as an
unknown one does, so an advertiser cannot learn that someone else's exists."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.money import advertisers
from bot.money.ads import Ads
from bot.money.campaigns import money
from bot.money.reports import CampaignReport
from bot.store import Advertiser
from bot.web.auth import SESSION_KEY, SETTINGS_KEY, STORE_KEY
from bot.web.charts import render_chart
from bot.web.forms import path_id, with_notice

routes = web.RouteTableDef()


def _advertiser(request: web.Request) -> Advertiser:
    session = request[SESSION_KEY]
    assert session is not None  # the guard lets no anonymous request this far
    assert session.advertiser is not None  # the guard lets only advertisers in here
    return session.advertiser


async def _reports(request: web.Request) -> list[CampaignReport]:
    """The figures of this advertiser's campaigns (as `causette ads report` computes)."""
    ads = Ads(request.app[SETTINGS_KEY], request.app[STORE_KEY])
    advertiser = _advertiser(request)
    return [r for r in await ads.report() if advertisers.owns(advertiser, r.campaign)]


async def _report(request: web.Request) -> CampaignReport:
    wanted = path_id(request.match_info["id"])
    for report in await _reports(request):
        if report.campaign.id == wanted:
            return report
    raise web.HTTPNotFound(text="No such campaign.")


@routes.get("/advertiser")
@aiohttp_jinja2.template("advertiser/campaigns.html")
async def campaigns(request: web.Request) -> dict[str, Any]:
    """This advertiser's campaigns with their totals."""
    await request.app[STORE_KEY].end_finished_campaigns()
    return {"reports": await _reports(request), "notice": request.query.get("notice", "")}


@routes.get(r"/advertiser/campaigns/{id:\d+}")
@aiohttp_jinja2.template("advertiser/campaign.html")
async def campaign(request: web.Request) -> dict[str, Any]:
    """One campaign: impressions, clicks, CTR and spend per day."""
    return {"report": await _report(request), "notice": request.query.get("notice", "")}


@routes.get(r"/advertiser/campaigns/{id:\d+}/chart.png")
async def chart(request: web.Request) -> web.Response:
    """The chart `/sponsors report` draws, for this campaign, off the event loop."""
    report = await _report(request)
    png = await asyncio.to_thread(render_chart, [report], request.app[SETTINGS_KEY].currency)
    return web.Response(body=png, content_type="image/png")


@routes.get(r"/advertiser/campaigns/{id:\d+}/report.csv")
async def report_csv(request: web.Request) -> web.Response:
    """The days of `causette ads report --json` for this campaign, as CSV."""
    report = await _report(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "impressions", "clicks", "spent"])
    for day in report.days:
        writer.writerow([day.day, day.impressions, day.clicks, money(day.spent_micros)])
    return web.Response(text=out.getvalue(), content_type="text/csv", headers={
        "Content-Disposition":
            f'attachment; filename="campaign-{report.campaign.id}.csv"'})


@routes.post(r"/advertiser/campaigns/{id:\d+}/{action:pause|resume}")
async def change_status(request: web.Request) -> web.StreamResponse:
    """Pause or resume one of its own campaigns."""
    report = await _report(request)
    ads = Ads(request.app[SETTINGS_KEY], request.app[STORE_KEY])
    action = request.match_info["action"]
    change = ads.pause if action == "pause" else ads.resume
    session = request[SESSION_KEY]
    assert session is not None  # the guard lets no anonymous request this far
    done = await change(report.campaign.id, session.actor)
    notice = f"campaign {action}d" if done else f"this campaign cannot be {action}d now"
    raise web.HTTPSeeOther(with_notice(f"/advertiser/campaigns/{report.campaign.id}", notice))
