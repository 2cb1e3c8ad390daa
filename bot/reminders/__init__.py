"""Reminders (issue 29): set in words or by command, confirmed with the exact time,
stored, and delivered once by whichever process claims them (bot/store/reminders.py).

"remind me tomorrow at 9 to call the bank" / "rappelle-moi dans 2 heures de ..." are
read by code (parsing.py) in the user's time zone: the one they chose with /timezone,
else their locale's. Each surface gives `run` a way to send; a reminder delivered more
than a minute after its time says how late it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.config import Settings
from bot.locales import t
from bot.money.tiers import Subject, Tiers
from bot.reminders.parsing import ParsedReminder, is_reminder_request, parse_reminder
from bot.store import Reminder, Store

if TYPE_CHECKING:
    from bot.pipeline.replies import Inbound

__all__ = ["ParsedReminder", "Reminders", "is_reminder_request", "parse_reminder",
           "target_of"]

log = logging.getLogger(__name__)

# A delivery that failed this many times is given up (and stays listed in exports).
MAX_ATTEMPTS = 5
# The zone of a user who never chose one, by their locale.
LOCALE_ZONES = {"fr": "Europe/Paris"}
# Surfaces that deliver reminders. WhatsApp does not yet: outside its 24-hour window only
# a template message may be sent, and no template is configured.
DELIVERED_ON = frozenset({"discord", "local"})

Send = Callable[[Reminder, str], Awaitable[None]]


def duration(delta: timedelta) -> str:
    """A duration as people read it: "2 h 5 min", "3 d 4 h", "40 s"."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes and not days else ""]
    shown = " ".join(p for p in parts if p)
    return shown or f"{secs} s"


def target_of(inbound: Inbound) -> str:
    """Where a reminder set by this message is delivered: on Discord the DM ("dm:<user>")
    or the channel it was asked in ("channel:<id>:<user>", mentioning them); elsewhere
    the conversation."""
    if inbound.platform != "discord":
        return inbound.conversation_key
    if inbound.conversation_key.startswith("guild:"):
        return f"channel:{inbound.conversation_key.rsplit(':', 1)[-1]}:{inbound.user}"
    return f"dm:{inbound.user}"


class Reminders:
    """Setting, listing, cancelling and delivering reminders."""

    def __init__(self, settings: Settings, store: Store, tiers: Tiers) -> None:
        self.settings = settings
        self.store = store
        self.tiers = tiers

    async def zone(self, user_id: int, locale: str) -> ZoneInfo:
        """The user's time zone: chosen, else their locale's, else REMINDER_TIMEZONE."""
        name = await self.store.timezone(user_id) or LOCALE_ZONES.get(
            locale, self.settings.reminder_timezone)
        return ZoneInfo(name)

    async def set_timezone(self, user_id: int, name: str, locale: str = "en") -> str:
        """Keep the user's time zone when it is a real IANA name."""
        name = name.strip()
        try:
            if name not in available_timezones():
                raise ZoneInfoNotFoundError(name)
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return t("timezone_unknown", locale, name=name or "?")
        await self.store.set_timezone(user_id, name)
        now = self.store.now().astimezone(ZoneInfo(name))
        return t("timezone_set", locale, name=name, now=f"{now:%Y-%m-%d %H:%M}")

    def when(self, moment: datetime | str, zone: ZoneInfo) -> str:
        """A moment in the user's zone, exactly: "2026-12-05 09:00 (Europe/Paris)"."""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"

    async def create(self, platform: str, user: str, target: str, request: str,
                     subject: Subject, locale: str = "en") -> str:
        """Read and store a reminder; the confirmation (or why not) to show."""
        if platform not in DELIVERED_ON:  # never promise what nothing would send
            return t("reminder_not_here", locale)
        user_id = await self.store.ensure_user(platform, user)
        zone = await self.zone(user_id, locale)
        now = self.store.now()
        parsed = parse_reminder(request, now, zone, locale)
        if parsed is None:
            return t("reminder_no_time", locale)
        if not parsed.task:
            return t("reminder_no_task", locale)
        if parsed.due <= now:
            return t("reminder_past", locale, when=self.when(parsed.due, zone))
        tier = (await self.tiers.resolve(subject)).tier
        stored = await self.store.add_reminder(user_id, platform, target, parsed.task,
                                               parsed.due, zone.key, locale,
                                               tier.spec.reminders)
        if stored is None:
            return t("reminder_limit", locale, limit=tier.spec.reminders)
        return t("reminder_set", locale, when=self.when(parsed.due, zone), task=parsed.task)

    async def command(self, inbound: Inbound) -> str | None:
        """A typed command (/remind WHEN WHAT, /reminders [cancel N], /timezone [ZONE])
        or a request in words ("remind me ..."): what to answer; None for anything else."""
        text, lang = inbound.text.strip(), inbound.locale
        name, _, rest = text.partition(" ")
        name, rest = name.lower(), rest.strip()
        if name == "/remind" or (not text.startswith("/") and is_reminder_request(text)):
            return await self.create(inbound.platform, inbound.user, target_of(inbound),
                                     rest if name == "/remind" else text, inbound.subject,
                                     lang)
        if name == "/reminders":
            action, _, number = rest.partition(" ")
            if action == "cancel" and number.strip().isdigit():
                return await self.cancel(inbound.platform, inbound.user, int(number), lang)
            return await self.listing(inbound.platform, inbound.user, lang)
        if name == "/timezone":
            user_id = await self.store.ensure_user(inbound.platform, inbound.user)
            if not rest:
                return t("timezone_show", lang, name=(await self.zone(user_id, lang)).key)
            return await self.set_timezone(user_id, rest, lang)
        return None

    async def listing(self, platform: str, user: str, locale: str = "en") -> str:
        """The user's reminders still to come, numbered."""
        user_id = await self.store.ensure_user(platform, user)
        coming = await self.store.reminders(user_id)
        if not coming:
            return t("reminders_none", locale)
        zone = await self.zone(user_id, locale)
        lines = [f"{n}. {self.when(r.due_at, zone)}: {r.text}"
                 for n, r in enumerate(coming, start=1)]
        return "\n".join([t("reminders_title", locale), *lines])

    async def cancel(self, platform: str, user: str, number: int, locale: str = "en") -> str:
        """Cancel the user's reminder number `number` (as listed)."""
        user_id = await self.store.ensure_user(platform, user)
        coming = await self.store.reminders(user_id)
        if not 1 <= number <= len(coming) or not await self.store.cancel_reminder(
                user_id, coming[number - 1].id):
            return t("reminder_no_such", locale, number=number)
        return t("reminder_cancelled", locale, task=coming[number - 1].text)

    def message(self, reminder: Reminder, now: datetime) -> str:
        """What is sent: the task, and how late when it is late."""
        text = t("reminder_due", reminder.locale, task=reminder.text)
        late = now - datetime.fromisoformat(reminder.due_at)
        if late > timedelta(seconds=self.settings.reminder_late_seconds):
            text += " " + t("reminder_late", reminder.locale, late=duration(late))
        return text

    async def deliver_due(self, platform: str, owner: str, send: Send,
                          user_id: int | None = None) -> int:
        """Claim and send the due reminders of `platform` (of one user only, when
        given); how many were delivered."""
        lease = timedelta(seconds=self.settings.reminder_lease_seconds)
        delivered = 0
        for reminder in await self.store.claim_due_reminders(platform, owner, lease,
                                                             user_id=user_id):
            try:
                await send(reminder, self.message(reminder, self.store.now()))
            except Exception as exc:  # the platform refused: tried again, then given up
                log.warning("reminder %s not delivered: %s", reminder.id, exc)
                await self.store.reminder_failed(reminder.id, owner,
                                                 give_up=reminder.attempts >= MAX_ATTEMPTS)
                continue
            if await self.store.reminder_delivered(reminder.id, owner):
                delivered += 1
        return delivered

    async def run(self, platform: str, owner: str, send: Send,
                  user_id: int | None = None) -> None:
        """Deliver `platform`'s reminders as they fall due, until cancelled. Late ones
        (the bot was down) go at once, at start."""
        while True:
            try:
                await self.deliver_due(platform, owner, send, user_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again next round
                log.error("reminders: %s", exc)
            await asyncio.sleep(self.settings.reminder_poll_seconds)

