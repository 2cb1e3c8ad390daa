"""An injectable clock for the store, and the type of the store-opening fixture."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.store import Store

StoreOpener = Callable[..., Awaitable[Store]]


class Clock:
    """An injectable clock for the store: tests move time by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
