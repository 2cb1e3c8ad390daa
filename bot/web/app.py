"""The web console's application: templates, the guard, the routes, and `serve`.

A surface like Discord and WhatsApp: its handlers call the same core as the CLI
(`bot.ads`, `bot.tiers`, `bot.privacy`, `bot.advertisers`) and never hold SQL."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.ads import money
from bot.config import Settings
from bot.store import Store
from bot.web import routes_advertiser, routes_campaigns, routes_operator, routes_overview
from bot.web.auth import AUTH_KEY, SESSION_KEY, SETTINGS_KEY, STORE_KEY, Auth, guard
from bot.web.auth import routes as auth_routes

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# Forms are a few kilobytes; anything much larger is refused (413) before it is read.
MAX_BODY_BYTES = 64 * 1024


async def _context(request: web.Request) -> dict[str, object]:
    session = request.get(SESSION_KEY)
    return {"session": session, "csrf": session.csrf if session else "",
            "currency": request.app[SETTINGS_KEY].currency, "path": request.path}


def build_app(settings: Settings, store: Store) -> web.Application:
    """The console over an open store (the caller closes the store)."""
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS_KEY] = settings
    app[STORE_KEY] = store
    app[AUTH_KEY] = Auth(settings, store)
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"),
        # Every value is escaped unless a template says otherwise (none does): names,
        # keywords and headlines are text, whatever they contain.
        autoescape=True,
        context_processors=[_context])
    env.filters["money"] = money
    app.add_routes(auth_routes)
    app.add_routes(routes_overview.routes)
    app.add_routes(routes_operator.routes)
    app.add_routes(routes_campaigns.routes)
    app.add_routes(routes_advertiser.routes)
    app.router.add_static("/static/", HERE / "static")
    return app


async def serve(settings: Settings, store: Store, *, ready: asyncio.Event | None = None
                ) -> None:
    """Serve the console on WEB_HOST:WEB_PORT until cancelled."""
    runner = web.AppRunner(build_app(settings, store), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.web_host, settings.web_port)
        await site.start()
        log.info("web console on http://%s:%s/", settings.web_host, settings.web_port)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
