"""Answering stored WhatsApp messages: leases, pick-ups, and one row's state machine.

A row belongs to the process that stored or took it, under a lease it renews while it
works. At start-up and periodically each process takes the pending rows whose owner is
gone: a process on this machine that no longer runs, or any whose lease ran out (on a
shared PostgreSQL, another machine's). Taking is one conditional UPDATE, so exactly one
process answers each row. See bot/store/inbound.py.

A row's answer goes: compose (the user's turn and the quota recorded on the row before
anything is generated, so a row taken over after a crash does neither again), keep the
reply on the row, send what Meta has not accepted yet, mark it answered. It ends
answered, failed (kept, with the reason, for `causette whatsapp retry`) or still pending
(another process holds it, or a later pick-up sends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Literal

import aiohttp

from bot.config import Settings
from bot.locales import t
from bot.pipeline.replies import Inbound, Reply
from bot.pipeline.runtime import Runtime
from bot.pipeline.streaming import split_text
from bot.store import Store
from bot.store.inbound import InboundMessage
from bot.whatsapp.compose import PLATFORM, Composed, compose, sender_locale
from bot.whatsapp.graph import WHATSAPP_LIMIT, GraphClient, GraphError
from bot.whatsapp.owners import new_owner, owner_is_dead

log = logging.getLogger(__name__)

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


class RowLost(Exception):
    """Another process took the row (this one's lease ran out): it answers, not us."""


class Delivery:
    """Answers stored rows, each once: leases kept alive, orphans picked up."""

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

    async def start(self, *, pickup: bool = True) -> int:
        """Keep this process's leases alive (and, with `pickup`, take what stopped
        processes left) every third of a lease; take them now too. Returns how many rows
        were taken now. The keeper runs even when this first pick-up fails (the database
        is away): its next round takes them."""
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep(pickup))
        return await self.pickup() if pickup else 0

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
                self.spawn(row)
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
        tasks = {row.message_id: self.spawn(row, slots) for row in rows}
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

    def spawn(self, row: InboundMessage,
              slots: asyncio.Semaphore | None = None) -> asyncio.Task[Outcome]:
        """Answer a row this process holds, in a task of its own."""
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
                        reply_message_id=composed.reply_message_id, lease_s=self.lease_s,
                        temporary=await self._temporary(row)):
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
        except RowLost:
            return self._lost(row)
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

    async def _compose(self, row: InboundMessage) -> Composed:
        """Mark the message read, then compose its answer; the user's stored turn and
        admission are recorded on the row before anything is generated."""
        await self.graph.mark_read_and_typing(row.channel or "", row.message_id)

        async def committed(user_message_id: int | None) -> None:
            if not await self.store.keep_turn(PLATFORM, row.message_id, owner=self.owner,
                                              user_message_id=user_message_id,
                                              lease_s=self.lease_s):
                raise RowLost(row.message_id)

        return await compose(self.runtime.assistant, row, committed)

    async def _temporary(self, row: InboundMessage) -> bool:
        """Whether the sender is in a temporary chat: then the row keeps no text."""
        if not row.sender:
            return False
        user_id = await self.store.ensure_user(PLATFORM, row.sender)
        return (await self.store.memory_settings(user_id)).temporary

    def _lost(self, row: InboundMessage) -> Outcome:
        log.warning("WhatsApp message %s was taken by another process: left to it",
                    row.message_id)
        return "pending"

    async def _fail(self, row: InboundMessage, reason: str) -> Outcome:
        try:
            keep_text = not await self._temporary(row)
        except Exception:  # cannot tell: a temporary chat's text is not kept on a doubt
            keep_text = False
        try:
            await self.store.finish_inbound(PLATFORM, row.message_id, owner=self.owner,
                                            status="failed", error=reason,
                                            keep_text=keep_text)
        except Exception:  # stays pending: taken again once its lease runs out
            log.exception("could not record WhatsApp message %s as failed", row.message_id)
        return "failed"

    async def _tell_failure(self, row: InboundMessage) -> None:
        """Never silence: the sender hears that something went wrong (an operator's
        retry may answer later)."""
        with contextlib.suppress(Exception):
            await self.graph.send_text(row.channel or "", row.sender or "",
                                       t("failed", sender_locale(row.sender or "")),
                                       reply_to=row.message_id)

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
            block = self.runtime.assistant.ads.block(offer, inbound.locale)
            sent = await self.graph.send_text(row.channel or "", row.sender or "", block)
            await self.runtime.assistant.ads.delivered(offer, sent)
        except GraphError as exc:
            log.info("sponsored block not delivered (%s): not charged", exc)
        except Exception:  # the answer is delivered; an ad never turns that into a failure
            log.exception("sponsored block for %s failed", row.message_id)


def _describe(exc: BaseException) -> str:
    """An exception in one line for the operator (StoreError's text says what to do)."""
    return str(exc) or type(exc).__name__
