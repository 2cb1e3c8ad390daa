"""The WhatsApp surface: a Cloud API webhook (aiohttp) and a Graph API client.

Meta delivers messages to `/webhook`, signed with the app secret, and retries until it
gets a 200; so the webhook checks the signature, answers 200 at once, processes in the
background, and remembers message ids so a retried delivery is never answered twice.
Answers go out through the Graph API, with retries on 429/5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import signal
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.assistant import Inbound, Reply
from bot.config import Settings
from bot.locales import t
from bot.runtime import Runtime
from bot.streaming import split_text

log = logging.getLogger(__name__)

WHATSAPP_LIMIT = 4096
CONVERSATION_KEY = "whatsapp"
HELP = ("Commands: /reset starts a new conversation, /premium shows your tier and usage, "
        "/privacy says what is stored (/privacy export, /privacy forget), /help shows "
        "this. Anything else is a question for the assistant.")


class GraphError(Exception):
    """The Graph API refused a request, or kept failing past the retry bound."""


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature-256: sha256=<hex>` against the raw body, in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


@dataclass(frozen=True)
class IncomingMessage:
    """One message of a webhook delivery, as much as Causette needs of it."""

    id: str
    sender: str
    phone_number_id: str
    kind: str
    text: str | None


def parse_delivery(payload: Any) -> list[IncomingMessage]:
    """The messages in a webhook payload; statuses and unknown shapes are skipped."""
    found: list[IncomingMessage] = []
    if not isinstance(payload, dict):
        return found
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            phone_number_id = str(_dict(value.get("metadata")).get("phone_number_id", ""))
            for message in _list(value.get("messages")):
                message = _dict(message)
                message_id, sender = message.get("id"), message.get("from")
                if not isinstance(message_id, str) or not isinstance(sender, str):
                    continue
                kind = str(message.get("type", "unknown"))
                body = _dict(message.get("text")).get("body") if kind == "text" else None
                found.append(IncomingMessage(message_id, sender, phone_number_id, kind,
                                             body if isinstance(body, str) else None))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class GraphClient:
    """Sends messages through the WhatsApp Cloud API, retrying 429 and 5xx."""

    def __init__(self, session: aiohttp.ClientSession, settings: Settings) -> None:
        self.session = session
        self.base = settings.whatsapp_graph_url.rstrip("/")
        token = settings.whatsapp_access_token
        self.headers = {"Authorization": f"Bearer {token.get_secret_value() if token else ''}"}
        self.attempts = settings.whatsapp_send_attempts
        self.backoff = settings.whatsapp_retry_base_seconds

    async def post(self, phone_number_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST to /{phone_number_id}/messages; raise GraphError when it cannot."""
        url = f"{self.base}/{phone_number_id}/messages"
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                async with self.session.post(url, json=payload, headers=self.headers,
                                             timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    if resp.status < 300:
                        data = await resp.json(content_type=None)
                        return data if isinstance(data, dict) else {}
                    last = f"HTTP {resp.status}"
                    if resp.status != 429 and resp.status < 500:
                        raise GraphError(f"Graph API refused the message ({last})")
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
                last = type(exc).__name__
        raise GraphError(f"Graph API failed {self.attempts} times (last: {last})")

    async def send_text(self, phone_number_id: str, to: str, text: str,
                        reply_to: str | None = None) -> str | None:
        """Send one text message (under 4,096 characters); returns its message id."""
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                   "to": to, "type": "text",
                                   "text": {"preview_url": False, "body": text}}
        if reply_to:
            payload["context"] = {"message_id": reply_to}
        data = await self.post(phone_number_id, payload)
        messages = data.get("messages")
        return str(messages[0].get("id")) if isinstance(messages, list) and messages else None

    async def mark_read_and_typing(self, phone_number_id: str, message_id: str) -> None:
        """Blue ticks and the typing indicator while the answer is generated."""
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id,
                   "typing_indicator": {"type": "text"}}
        try:
            await self.post(phone_number_id, payload)
        except GraphError as exc:  # cosmetic: never stops the answer
            log.info("could not mark %s read: %s", message_id, exc)


class WhatsAppBot:
    """The webhook application and the background processing of deliveries."""

    def __init__(self, settings: Settings, runtime: Runtime,
                 session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.runtime = runtime
        self.graph = GraphClient(session, settings)
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        """The aiohttp application with GET and POST /webhook."""
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
        """A delivery: size, signature and JSON checked; then 200 at once."""
        limit = self.settings.whatsapp_max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            log.warning("webhook body refused: %s bytes", request.content_length)
            return web.Response(status=413, text="too large")
        body = await request.content.read(limit + 1)
        if len(body) > limit:
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
        task = asyncio.create_task(self.process(payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(text="ok")

    async def idle(self) -> None:
        """Wait until every accepted delivery has been processed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def process(self, payload: Any) -> None:
        """Answer each new text message of a delivery; never raises."""
        for message in parse_delivery(payload):
            try:
                if not await self.runtime.store.claim_inbound("whatsapp", message.id):
                    log.info("delivery %s already handled: skipped", message.id)
                    continue
                await self._answer(message)
            except Exception:  # one bad message never stops the others, nor the server
                log.exception("could not answer WhatsApp message %s", message.id)

    async def _send(self, message: IncomingMessage, text: str) -> str | None:
        last = None
        for index, chunk in enumerate(split_text(text, WHATSAPP_LIMIT)):
            last = await self.graph.send_text(message.phone_number_id, message.sender, chunk,
                                              reply_to=message.id if index == 0 else None)
        return last

    async def _answer(self, message: IncomingMessage) -> None:
        assistant = self.runtime.assistant
        await self.graph.mark_read_and_typing(message.phone_number_id, message.id)
        if message.kind != "text" or message.text is None:
            await self._send(message, t("text_only", "en", names=message.kind))
            return
        inbound = Inbound("whatsapp", message.sender, CONVERSATION_KEY, message.text)
        command = message.text.strip().lower()
        if command == "/reset":
            await assistant.reset("whatsapp", message.sender, CONVERSATION_KEY)
            await self._send(message, t("reset_done", "en"))
            return
        if command == "/help":
            await self._send(message, HELP)
            return
        if command.startswith("/privacy"):
            answer = await assistant.privacy_command(inbound, message.text.strip()[8:])
            await self._send(message, answer)
            return
        if command == "/premium":
            await self._send(message, await assistant.tiers.summary(inbound.subject))
            return
        reply = await assistant.handle(inbound)
        await self._deliver(message, inbound, reply)

    async def _deliver(self, message: IncomingMessage, inbound: Inbound, reply: Reply) -> None:
        if reply.refusal:
            await self._send(message, "\n".join([*reply.notices, reply.refusal]))
            return
        outcome = await reply.outcome()
        text = "\n".join([*(f"_{n}_" for n in reply.notices), outcome.text.strip() or "…"])
        if outcome.status == "failed":
            text = t("failed", inbound.locale)
        try:
            await self._send(message, text)
        except GraphError as exc:
            log.warning("answer to %s not delivered: %s", message.id, exc)
            if outcome.assistant_message_id is not None:
                await self.runtime.store.set_message_status(
                    outcome.assistant_message_id, "failed", "undelivered")
            return
        offer = await self.runtime.assistant.sponsored(inbound, reply)
        if offer is None:
            return
        try:
            sent = await self.graph.send_text(message.phone_number_id, message.sender,
                                              self.runtime.assistant.ads.block(offer))
        except GraphError as exc:
            log.info("sponsored block not delivered (%s): not charged", exc)
            return
        await self.runtime.assistant.ads.delivered(offer, sent)


def missing_settings(settings: Settings) -> list[str]:
    """The WhatsApp settings that must be set before the webhook can run."""
    return [name.upper() for name in ("whatsapp_verify_token", "whatsapp_app_secret",
                                      "whatsapp_access_token")
            if getattr(settings, name) is None]


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
            await stop.wait()
        finally:
            await runner.cleanup()  # no new deliveries...
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bot.idle(), 60)  # ...and finish the accepted ones
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    return 0
