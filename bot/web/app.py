"""The web console's application: templates, the guard, the routes, and `serve`.

A surface like Discord and WhatsApp: its handlers call the same core as the CLI
(`bot.money.ads`, `bot.money.tiers`, `bot.pipeline.privacy`,
`bot.money.advertisers`) and never hold SQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.config import Settings, SettingsError
from bot.money.campaigns import money
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


async def start_site(settings: Settings, store: Store) -> web.AppRunner:
    """The console listening on WEB_HOST:WEB_PORT on the running loop; the caller
    stops it with `runner.cleanup()`."""
    runner = web.AppRunner(build_app(settings, store), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("web console on http://%s:%s/", settings.web_host, settings.web_port)
    return runner


async def serve(settings: Settings, store: Store, *, ready: asyncio.Event | None = None
                ) -> None:
    """Serve the console on WEB_HOST:WEB_PORT until cancelled."""
    runner = await start_site(settings, store)
    try:
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


@asynccontextmanager
async def console_beside(settings: Settings) -> AsyncIterator[web.AppRunner | None]:
    """With WEB_WITH_RUN, the console served on the running loop for as long as the
    block runs (`causette run`'s bot); otherwise nothing (None).

    It opens its own Store: the bot's runtime opens its store inside the bot's own
    start-up, and two connections to one database are what `causette web` beside the
    bot does anyway."""
    if not settings.web_with_run:
        yield None
        return
    if settings.web_admin_token is None:
        raise SettingsError("WEB_WITH_RUN=true needs WEB_ADMIN_TOKEN (the operators' "
                            "login); see README, 'Web console'")
    store = await Store.from_settings(settings)
    try:
        try:
            runner = await start_site(settings, store)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise SettingsError(f"WEB_WITH_RUN: cannot listen on {settings.web_host}:"
                                f"{settings.web_port} ({exc.strerror or exc}); change "
                                "WEB_PORT or WEB_HOST") from None
        try:
            yield runner
        finally:
            await runner.cleanup()
    finally:
        await store.close()
