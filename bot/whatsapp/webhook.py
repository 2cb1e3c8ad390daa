"""The WhatsApp webhook: HTTP only. It stores each message before acknowledging it;
`bot.whatsapp.delivery` answers it.

Meta delivers messages to `/webhook`, signed with the app secret, and retries a
delivery until it gets a 200. So a message is never acknowledged before it is safe:
the webhook reads the whole body, checks the signature, stores each new message as
`pending` (in the transaction that dedups its id, so a retried delivery is never
answered twice) and only then answers 200.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.pipeline.runtime import Runtime
from bot.store.inbound import NewInbound
from bot.whatsapp.compose import PLATFORM
from bot.whatsapp.delivery import Delivery
from bot.whatsapp.payloads import parse_delivery, signature_ok

log = logging.getLogger(__name__)


class WhatsAppBot(Delivery):
    """The webhook application, over the answering of stored messages."""

    def app(self) -> web.Application:
        """The aiohttp application with GET and POST /webhook; bodies over
        WHATSAPP_MAX_BODY_BYTES are refused (413) while they are read."""
        app = web.Application(client_max_size=self.settings.whatsapp_max_body_bytes)
        app.router.add_get("/webhook", self.verify)
        app.router.add_post("/webhook", self.receive)
        return app

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake."""
        expected = self.settings.whatsapp_verify_token
        query = request.query
        given = query.get("hub.verify_token", "")
        if (expected is not None and query.get("hub.mode") == "subscribe"
                and hmac.compare_digest(given.encode(), expected.get_secret_value().encode())):
            return web.Response(text=query.get("hub.challenge", ""))
        log.warning("webhook verification refused")
        return web.Response(status=403, text="forbidden")

    async def receive(self, request: web.Request) -> web.Response:
        """A delivery: size, signature and JSON checked, new messages stored; then 200.

        Nothing is acknowledged that is not stored: when the database fails the answer
        is 503 and Meta delivers again later."""
        limit = self.settings.whatsapp_max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            log.warning("webhook body refused: %s bytes", request.content_length)
            return web.Response(status=413, text="too large")
        try:
            # The whole body, however many pieces it arrives in (the signature covers
            # all of it); client_max_size stops reading past the limit.
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("webhook body refused: over %s bytes", limit)
            return web.Response(status=413, text="too large")
        secret = self.settings.whatsapp_app_secret
        if secret is None or not signature_ok(secret.get_secret_value(), body,
                                              request.headers.get("X-Hub-Signature-256")):
            log.warning("webhook delivery with a bad or missing signature refused")
            return web.Response(status=401, text="bad signature")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("webhook body is not JSON (%s bytes)", len(body))
            return web.Response(status=400, text="malformed JSON")
        except RecursionError:  # signed, but nested deeper than the parser goes
            log.warning("webhook body nested too deeply (%s bytes)", len(body))
            return web.Response(status=400, text="JSON nested too deeply")
        messages = parse_delivery(payload)
        if not messages:  # statuses (delivered, read), reactions: nothing to answer
            return web.Response(text="ok")
        try:
            stored = await self.store.accept_inbound(
                PLATFORM, [NewInbound(m.id, m.sender, m.phone_number_id, m.kind, m.text)
                           for m in messages], owner=self.owner, lease_s=self.lease_s)
        except Exception:
            log.exception("could not store a delivery of %s message(s): Meta will retry",
                          len(messages))
            return web.Response(status=503, text="try again")
        if len(stored) < len(messages):
            log.info("%s message(s) of a delivery already received: skipped",
                     len(messages) - len(stored))
        for row in stored:
            self.spawn(row)
        return web.Response(text="ok")


def missing_settings(settings: Settings, *, sending_only: bool = False) -> list[str]:
    """The WhatsApp settings that must be set before the webhook can run (or, with
    `sending_only`, before answers can be sent, e.g. by `causette whatsapp retry`)."""
    names = (("whatsapp_access_token",) if sending_only else
             ("whatsapp_verify_token", "whatsapp_app_secret", "whatsapp_access_token"))
    return [name.upper() for name in names if getattr(settings, name) is None]


async def serve(settings: Settings, runtime: Runtime) -> int:
    """Run the webhook until SIGINT/SIGTERM, then finish what was accepted."""
    async with aiohttp.ClientSession() as session:
        bot = WhatsAppBot(settings, runtime, session)
        runner = web.AppRunner(bot.app())
        await runner.setup()
        site = web.TCPSite(runner, settings.whatsapp_host, settings.whatsapp_port)
        await site.start()
        log.info("WhatsApp webhook on http://%s:%s/webhook", settings.whatsapp_host,
                 settings.whatsapp_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            try:
                # What a stopped process left pending is answered now, and every third
                # of a lease from now on (the keeper runs even if this first one fails).
                await bot.start()
            except Exception:  # the database is away: the keeper's next round tries again
                log.exception("picking up pending WhatsApp messages failed")
            await stop.wait()
        finally:
            await runner.cleanup()  # no new deliveries...
            await bot.close(60)  # ...and finish the accepted ones
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    return 0
