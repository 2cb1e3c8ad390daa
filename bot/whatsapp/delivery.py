"""The WhatsApp webhook: stores each message before acknowledging it, then answers it.

Meta delivers messages to `/webhook`, signed with the app secret, and retries a
delivery until it gets a 200. So a message is never acknowledged before it is safe:
the webhook reads the whole body, checks the signature, stores each new message as
`pending` (in the transaction that dedups its id, so a retried delivery is never
answered twice) and only then answers 200. The answer is composed from the stored row,
kept on it, sent through the Graph API (429 and 5xx retried with backoff, honouring
Retry-After) and the row marked `answered` once Meta accepted it; when every try
failed it is `failed`, with the reason, for `causette whatsapp retry`.

A row belongs to the process that stored or took it, under a lease it renews while it
works. At start-up and periodically each process takes the pending rows whose owner is
gone: a process on this machine that no longer runs, or any whose lease ran out (on a
shared PostgreSQL, another machine's). Taking is one conditional UPDATE, so exactly one
process answers each row. See bot/store/inbound.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.locales import t
from bot.pipeline.assistant import Inbound, Reply
from bot.pipeline.runtime import Runtime
from bot.pipeline.streaming import split_text
from bot.store import Store
from bot.store.inbound import InboundMessage, NewInbound
from bot.user_refs import phone_region
from bot.whatsapp.graph import WHATSAPP_LIMIT, GraphClient, GraphError
from bot.whatsapp.owners import new_owner, owner_is_dead
from bot.whatsapp.payloads import parse_delivery, signature_ok

log = logging.getLogger(__name__)

PLATFORM = "whatsapp"
CONVERSATION_KEY = "whatsapp"
HELP = ("Commands: /reset starts a new conversation, /premium shows your tier and usage, "
        "/privacy says what is stored (/privacy export, /privacy forget), /remember FACT "
        "saves a fact about you, /memory lists them (/memory forget N, clear, off, on), "
        "/temporary on|off stores nothing, /help shows this. Anything else is a question "
        "for the assistant.")

# A process holds the rows it answers for this long, and renews that every third of it
# (with its pick-up of orphans): a row whose lease ran out belongs to a process that
# stopped (or cannot reach the database) and is taken by another. Long enough that a
# busy event loop or a slow database never loses a live process's rows.
LEASE_SECONDS = 60.0
# At most this many rows answered at once from pick-ups: after an outage, a backlog is
# answered steadily instead of filling the engine's queue (whose refusal, "busy", would
# be the answer).
PICKUP_BATCH = 16
# How answering a row ended: answered; failed (kept, with the reason, for a retry); or
# still pending (another process holds it now, or a later pick-up sends it again).
Outcome = Literal["answered", "failed", "pending"]


@dataclass
class Composed:
    """An answer to send, and what produced it (a chat reply may bring a sponsored one)."""

    text: str
    reply_message_id: int | None = None
    inbound: Inbound | None = None
    reply: Reply | None = None


class WhatsAppBot:
    """The webhook application and the answering of stored messages."""

    def __init__(self, settings: Settings, runtime: Runtime,
                 session: aiohttp.ClientSession, *, lease_s: float = LEASE_SECONDS) -> None:
        self.settings = settings
        self.runtime = runtime
        self.graph = GraphClient(session, settings)
        self.owner = new_owner()
        self.lease_s = lease_s
        self._working: dict[str, asyncio.Task[Outcome]] = {}
        self._keeper: asyncio.Task[None] | None = None

    @property
    def store(self) -> Store:
        """The runtime's store (one object for every domain)."""
        return self.runtime.store

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
        messages = parse_delivery(payload)
        if not messages:  # statuses (delivered, read): nothing to answer
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
            self._spawn(row)
        return web.Response(text="ok")

    # Answering stored messages -----------------------------------------------------------

    async def start(self, *, pickup: bool = True) -> int:
        """Take what stopped processes left (with `pickup`), then keep this process's
        leases alive (and pick up again) every third of a lease. Returns how many rows
        were taken now."""
        taken = await self.pickup() if pickup else 0
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep(pickup))
        return taken

    async def close(self, grace_s: float = 60.0) -> None:
        """Finish the answers in progress (leases still renewed meanwhile); past
        `grace_s`, stop them and give their rows back for another process."""
        try:
            await asyncio.wait_for(self.idle(), grace_s)
        except TimeoutError:
            log.warning("WhatsApp answers still in progress at shutdown: given back")
        finally:
            if self._keeper is not None:
                self._keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._keeper
                self._keeper = None

    async def idle(self) -> None:
        """Wait until every message taken so far has been answered (or failed)."""
        while self._working:
            await asyncio.gather(*list(self._working.values()), return_exceptions=True)

    async def pickup(self) -> int:
        """Take pending rows whose owner is gone (up to PICKUP_BATCH in progress) and
        answer them; returns how many were taken."""
        room = PICKUP_BATCH - len(self._working)
        if room <= 0:
            return 0
        owners = await self.store.pending_owners(PLATFORM)
        dead = [owner for owner in owners if owner_is_dead(owner, self.owner)]
        rows = await self.store.take_orphans(PLATFORM, owner=self.owner, lease_s=self.lease_s,
                                             limit=room, dead_owners=dead)
        for row in rows:
            if row.message_id not in self._working:
                self._spawn(row)
        if rows:
            log.info("picked up %s WhatsApp message(s) left unanswered", len(rows))
        return len(rows)

    async def retry(self, message_ids: Sequence[str] | None) -> dict[str, str]:
        """Answer failed rows again (those named, or all): message id -> how it ended
        ('answered', or 'failed: <reason>'). Rows that are not failed are left alone."""
        rows = await self.store.retry_failed(PLATFORM, message_ids, owner=self.owner,
                                             lease_s=self.lease_s)
        # All held (their leases renewed) while at most PICKUP_BATCH are answered at once.
        slots = asyncio.Semaphore(PICKUP_BATCH)
        tasks = {row.message_id: self._spawn(row, slots) for row in rows}
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        results: dict[str, str] = {}
        for message_id, task in tasks.items():
            outcome: str = task.result() if not task.cancelled() and not task.exception() \
                else "pending"
            if outcome == "failed":
                row = await self.store.inbound_message(PLATFORM, message_id)
                outcome = f"failed: {row.error if row else 'unknown'}"
            elif outcome == "pending":
                outcome = "pending: left to the webhook's next pick-up"
            results[message_id] = outcome
        return results

    async def _keep(self, pickup: bool) -> None:
        """Renew the leases of the rows in progress, and pick up orphans, until cancelled."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.store.renew_inbound(PLATFORM, list(self._working),
                                               owner=self.owner, lease_s=self.lease_s)
                if pickup:
                    await self.pickup()
            except Exception:  # the database is away: the next round tries again
                log.exception("renewing WhatsApp leases or picking up failed")

    def _spawn(self, row: InboundMessage,
               slots: asyncio.Semaphore | None = None) -> asyncio.Task[Outcome]:
        async def work() -> Outcome:
            if slots is None:
                return await self._work(row)
            async with slots:
                return await self._work(row)

        task = asyncio.create_task(work())
        self._working[row.message_id] = task

        def done(finished: asyncio.Task[Outcome]) -> None:
            if self._working.get(row.message_id) is finished:
                del self._working[row.message_id]

        task.add_done_callback(done)
        return task

    async def _work(self, row: InboundMessage) -> Outcome:
        """Answer one stored row: compose (unless a reply is kept), send what was not
        accepted yet, mark it answered; never raises."""
        mid = row.message_id
        composed: Composed | None = None
        sending = False
        try:
            text = row.reply
            if text is not None and not await self.store.renew_inbound(
                    PLATFORM, [mid], owner=self.owner, lease_s=self.lease_s):
                # Taken a while ago (it waited for a slot, or the database was away):
                # sent only if still ours, so never by two processes.
                return self._lost(row)
            if text is None:
                composed = await self._compose(row)
                text = composed.text
                if not await self.store.keep_reply(
                        PLATFORM, mid, owner=self.owner, reply=text,
                        reply_message_id=composed.reply_message_id, lease_s=self.lease_s):
                    return self._lost(row)
            turn = composed.reply_message_id if composed else row.reply_message_id
            parts = split_text(text, WHATSAPP_LIMIT) or [text]
            sending = True
            for index in range(row.sent_parts, len(parts)):
                await self.graph.send_text(row.channel or "", row.sender or "", parts[index],
                                           reply_to=mid if index == 0 else None)
                if index + 1 < len(parts) and not await self.store.parts_sent(
                        PLATFORM, mid, owner=self.owner, parts=index + 1,
                        lease_s=self.lease_s):
                    return self._lost(row)
            if not await self.store.finish_inbound(PLATFORM, mid, owner=self.owner,
                                                   status="answered"):
                return self._lost(row)
            await self._turn_delivered(turn, True)
        except GraphError as exc:
            log.warning("answer to %s not delivered: %s", mid, exc)
            await self._turn_delivered(composed.reply_message_id if composed
                                       else row.reply_message_id, False)
            return await self._fail(row, str(exc))
        except asyncio.CancelledError:
            # Stopped at shutdown: give the row back at once rather than at lease end.
            with contextlib.suppress(Exception):
                await self.store.release_inbound(PLATFORM, mid, owner=self.owner)
            raise
        except Exception as exc:
            log.exception("could not answer WhatsApp message %s", mid)
            if sending:
                # Some of the answer may have been accepted, but the database could not
                # record it: the row stays pending and is sent again when its lease runs
                # out (at least once), rather than failed as if nobody had seen it.
                return "pending"
            await self._tell_failure(row)  # never silence; a retry may answer later
            return await self._fail(row, f"could not answer: {_describe(exc)}")
        if composed is not None and composed.reply is not None and composed.inbound is not None:
            await self._sponsored(row, composed.inbound, composed.reply)
        return "answered"

    def _lost(self, row: InboundMessage) -> Outcome:
        # Another process took the row (this one's lease ran out): it answers; not us.
        log.warning("WhatsApp message %s was taken by another process: left to it",
                    row.message_id)
        return "pending"

    async def _fail(self, row: InboundMessage, reason: str) -> Outcome:
        try:
            await self.store.finish_inbound(PLATFORM, row.message_id, owner=self.owner,
                                            status="failed", error=reason)
        except Exception:  # stays pending: taken again once its lease runs out
            log.exception("could not record WhatsApp message %s as failed", row.message_id)
        return "failed"

    async def _tell_failure(self, row: InboundMessage) -> None:
        """Never silence: the sender hears that something went wrong (an operator's
        retry may answer later)."""
        with contextlib.suppress(Exception):
            await self.graph.send_text(row.channel or "", row.sender or "",
                                       t("failed", "en"), reply_to=row.message_id)

    async def _turn_delivered(self, turn: int | None, delivered: bool) -> None:
        """Keep the conversation's turn in step with what the user saw: an answer that
        could not be delivered is failed ('undelivered', so later prompts leave it out),
        and complete again once a retry delivered it."""
        if turn is None:
            return
        try:
            stored = await self.store.message(turn)
            if stored is None:
                return
            if not delivered and stored.status == "complete":
                await self.store.set_message_status(turn, "failed", "undelivered")
            elif delivered and (stored.status, stored.stop_reason) == ("failed", "undelivered"):
                await self.store.set_message_status(turn, "complete", "stop")
        except Exception:  # the delivery state is on the inbound row; this only mirrors it
            log.exception("could not update the turn of message %s", turn)

    async def _compose(self, row: InboundMessage) -> Composed:
        """The answer to one stored message: a command's, or the assistant's."""
        assistant = self.runtime.assistant
        await self.graph.mark_read_and_typing(row.channel or "", row.message_id)
        if row.kind != "text" or row.body is None:
            return Composed(t("text_only", "en", names=row.kind or "message"))
        sender = row.sender or ""
        inbound = Inbound(PLATFORM, sender, CONVERSATION_KEY, row.body,
                          region=phone_region(sender))
        command = row.body.strip().lower()
        if command == "/reset":
            await assistant.reset(PLATFORM, sender, CONVERSATION_KEY)
            return Composed(t("reset_done", "en"))
        if command == "/help":
            return Composed(HELP)
        if command.startswith("/privacy"):
            return Composed(await assistant.privacy.command(
                inbound.user_ref, row.body.strip()[8:], inbound.locale))
        if command == "/premium":
            return Composed(await assistant.tiers.summary(inbound.subject))
        typed = await assistant.memory.command(inbound)  # /remember, /memory, /temporary
        if typed is not None:
            return Composed(typed)
        reply = await assistant.handle(inbound)
        if reply.refusal:
            return Composed("\n".join([*reply.notices, reply.refusal]))
        outcome = await reply.outcome()
        note = outcome.note(inbound.locale)
        # The crisis lines come first; a withheld answer is replaced by its note.
        lines = [*(f"_{n}_" for n in reply.notices), reply.preface or "",
                 outcome.shown_text.strip(), note or ""]
        text = "\n".join(line for line in lines if line) or t("empty_answer", inbound.locale)
        return Composed(text, outcome.assistant_message_id, inbound, reply)

    async def _sponsored(self, row: InboundMessage, inbound: Inbound, reply: Reply) -> None:
        """After the answer was delivered: a MEMORY_AUTO save with how to undo it, then a
        sponsored block, charged once delivered."""
        try:
            saved = await reply.suggestion if reply.suggestion is not None else None
            if saved is not None:
                memory = self.runtime.assistant.memory
                hint = await memory.undo_hint(await memory.user_id(inbound), saved)
                await self.graph.send_text(row.channel or "", row.sender or "", hint)
        except Exception:  # the answer is delivered; the notice is a courtesy
            log.exception("memory notice for %s failed", row.message_id)
        try:
            offer = await self.runtime.assistant.sponsored(inbound, reply)
            if offer is None:
                return
            sent = await self.graph.send_text(row.channel or "", row.sender or "",
                                              self.runtime.assistant.ads.block(offer))
            await self.runtime.assistant.ads.delivered(offer, sent)
        except GraphError as exc:
            log.info("sponsored block not delivered (%s): not charged", exc)
        except Exception:  # the answer is delivered; an ad never turns that into a failure
            log.exception("sponsored block for %s failed", row.message_id)


def _describe(exc: BaseException) -> str:
    """An exception in one line for the operator (StoreError's text says what to do)."""
    return str(exc) or type(exc).__name__


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
                # of a lease from now on.
                await bot.start()
            except Exception:  # the database is away: the periodic pick-up tries again
                log.exception("picking up pending WhatsApp messages failed")
            await stop.wait()
        finally:
            await runner.cleanup()  # no new deliveries...
            await bot.close(60)  # ...and finish the accepted ones
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    return 0
