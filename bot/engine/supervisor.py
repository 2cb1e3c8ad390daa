"""Restarting a stopped engine: a few tries with backoff, then the process exits.

The engines end every request themselves when their worker dies and refuse new ones
with `EngineStopped`; this only decides what comes next. Each restart waits
`ENGINE_RESTART_BACKOFF_SECONDS`, doubled at each try (at most `MAX_BACKOFF_S`). After
`ENGINE_RESTART_ATTEMPTS` tries the supervisor gives up: its `on_give_up` makes the
process exit with `EXIT_ENGINE_STOPPED`, so that a service manager (systemd's
`Restart=on-failure`, Docker's `restart: on-failure`) starts it afresh, a cleaner
state than a process that keeps reloading a model in place. An engine that stops again
less than `STABLE_S` after a restart counts against the same tries: a model that fails
every minute is not restarted forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.config import Settings
from bot.engine.protocol import Supervised
from bot.metrics import Metrics

log = logging.getLogger(__name__)

EXIT_ENGINE_STOPPED = 70  # EX_SOFTWARE (sysexits.h): an internal failure
MAX_BACKOFF_S = 300.0
STABLE_S = 600.0


class Supervisor:
    """Watches one engine; restarts it when it stops; gives up after bounded tries."""

    def __init__(self, engine: Supervised, settings: Settings, *,
                 on_give_up: Callable[[str], None], metrics: Metrics | None = None,
                 record: Callable[[str, str], Awaitable[None]] | None = None) -> None:
        self.engine = engine
        self.attempts = settings.engine_restart_attempts
        self.backoff = settings.engine_restart_backoff_seconds
        self.metrics = metrics
        self._on_give_up = on_give_up
        self._record = record  # keeps each event where `causette stats` reads it
        self.failures = 0
        self.restarts = 0
        self.gave_up: str | None = None  # why, once it gave up

    async def run(self) -> None:
        """Watch until cancelled, or until giving up."""
        try:
            await self._watch()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a supervisor that cannot supervise must not hide it
            log.exception("the engine supervisor failed")
            self._give_up(f"the engine supervisor failed: {exc}")

    async def _watch(self) -> None:
        tries = 0  # restart tries since the engine last ran for STABLE_S
        restarted_at: float | None = None
        while True:
            why = await self.engine.wait_failed()
            self.failures += 1
            if self.metrics is not None:
                self.metrics.engine_failed()
            log.error("the model stopped: %s", why)
            await self._note("engine_stopped", why)
            if restarted_at is not None and time.monotonic() - restarted_at >= STABLE_S:
                tries = 0
            while True:
                if tries >= self.attempts:
                    await self._note("engine_gave_up", why)
                    self._give_up(why)
                    return
                await asyncio.sleep(min(MAX_BACKOFF_S, self.backoff * 2 ** tries))
                tries += 1
                try:
                    await self.engine.restart()
                except Exception as exc:  # counted as a try; the next one waits longer
                    why = str(exc)
                    log.error("restarting the model failed (try %s of %s): %s", tries,
                              self.attempts, why)
                    continue
                restarted_at = time.monotonic()
                self.restarts += 1
                if self.metrics is not None:
                    self.metrics.engine_restarted()
                log.warning("the model was restarted (try %s of %s)", tries, self.attempts)
                await self._note("engine_restarted", f"try {tries} of {self.attempts}")
                break

    async def _note(self, event: str, detail: str) -> None:
        if self._record is None:
            return
        try:
            await self._record(event, detail)
        except Exception as exc:  # the store may be what failed; the log line remains
            log.error("could not record %s: %s", event, exc)

    def _give_up(self, why: str) -> None:
        self.gave_up = why
        log.critical("the model stopped and could not be restarted (%s); exiting with "
                     "status %s", why, EXIT_ENGINE_STOPPED)
        self._on_give_up(why)
