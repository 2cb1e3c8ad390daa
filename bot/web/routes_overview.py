"""The operator's overview: today's figures, the last days, engine and WhatsApp health,
how fast answers come.

The console holds neither the model nor the WhatsApp token, so "retry" on a failed
delivery does not send anything itself: it hands the row back to the running webhook,
whose periodic pick-up answers it once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import charts
from bot.web.auth import SESSION_KEY, STORE_KEY
from bot.web.forms import with_notice

routes = web.RouteTableDef()
FAILED_SHOWN = 20  # WhatsApp deliveries listed one by one (all are counted)
OVERVIEW_DAYS = 14
PLATFORM = "whatsapp"


def _since(request: web.Request) -> str:
    store = request.app[STORE_KEY]
    return (store.now().date() - timedelta(days=OVERVIEW_DAYS - 1)).isoformat()


@routes.get("/operator")
@aiohttp_jinja2.template("operator/overview.html")
async def overview(request: web.Request) -> dict[str, Any]:
    """Today's figures (the same as `causette stats`), the last days, failed deliveries."""
    store = request.app[STORE_KEY]
    failed = [row for row in await store.inbound_by_status("failed", limit=FAILED_SHOWN)
              if row.platform == PLATFORM]
    today = store.now().date().isoformat()
    speeds = await store.answer_speeds(_since(request))
    return {"figures": await store.stats(today),
            "days": await store.daily_figures(_since(request)),
            "speeds": speeds, "today_speed": next((d for d in speeds if d.day == today), None),
            "failed": failed, "notice": request.query.get("notice", "")}


@routes.get("/operator/overview.png")
async def overview_chart(request: web.Request) -> web.Response:
    """Answers and active users per day, drawn off the event loop."""
    figures = await request.app[STORE_KEY].daily_figures(_since(request))
    png = await asyncio.to_thread(charts.activity_chart, figures)
    return web.Response(body=png, content_type="image/png")


@routes.get("/operator/speed.png")
async def speed_chart(request: web.Request) -> web.Response:
    """Median answer duration and tokens/s per day, drawn off the event loop."""
    speeds = await request.app[STORE_KEY].answer_speeds(_since(request))
    png = await asyncio.to_thread(charts.speed_chart, speeds)
    return web.Response(body=png, content_type="image/png")


@routes.post("/operator/whatsapp/retry")
async def retry_delivery(request: web.Request) -> web.StreamResponse:
    """Hand a failed WhatsApp delivery back to the webhook (audited): pending and
    unowned, so the webhook's next pick-up (within about 20 s) answers it."""
    form = await request.post()
    message_id = str(form.get("message_id", "")).strip()
    if not message_id:
        raise web.HTTPBadRequest(text="Which message? (message_id is missing)")
    session = request[SESSION_KEY]
    assert session is not None  # the guard lets no anonymous request this far
    if await request.app[STORE_KEY].requeue_failed(PLATFORM, message_id,
                                                  actor=session.actor):
        notice = (f"{message_id} handed back to the WhatsApp webhook: it answers it at its "
                  "next pick-up (within about 20 seconds, while `causette whatsapp` runs)")
    else:
        # Already handed back (another click, another operator), answered, or unknown:
        # nothing changed, and saying so is all there is to do.
        notice = f"{message_id} is not a failed delivery (any more): nothing to retry"
    raise web.HTTPSeeOther(with_notice("/operator", notice))
