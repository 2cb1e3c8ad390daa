"""The overview's charts, drawn with matplotlib as `bot.ads.render_chart` draws the
sponsored-reply reports (one chart library for the console and /sponsors report).
Call these off the event loop (asyncio.to_thread): drawing takes tens of ms."""

from __future__ import annotations

import io
from typing import Any

from bot.store import DayFigures, DaySpeed


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: PNGs only
    from matplotlib import pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _pyplot().close(figure)
    return buffer.getvalue()


def activity_chart(days: list[DayFigures]) -> bytes:
    """A PNG of answers, failures and refusals (bars) and active users (line) per day."""
    plt = _pyplot()

    labels = [d.day for d in days]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.bar(labels, [d.answers for d in days], label="answers")
    top.bar(labels, [d.failed for d in days], bottom=[d.answers for d in days], label="failed")
    top.bar(labels, [d.refused for d in days],
            bottom=[d.answers + d.failed for d in days], label="refused or withheld")
    top.legend()
    top.set_title("Answers per day")
    bottom.plot(labels, [d.active_users for d in days], marker="o", color="tab:green")
    bottom.set_ylabel("active users")
    figure.autofmt_xdate()
    return _png(figure)


def speed_chart(days: list[DaySpeed]) -> bytes:
    """A PNG of the median answer duration (bars) and median tokens/s (line) per day;
    days without a measured answer are gaps, not zeros."""
    plt = _pyplot()
    labels = [d.day for d in days]
    nan = float("nan")
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4), sharex=True)
    top.bar(labels, [nan if d.median_seconds is None else d.median_seconds for d in days],
            color="tab:purple")
    top.set_ylabel("median seconds")
    top.set_title("Answer duration and speed per day")
    bottom.plot(labels, [nan if d.tokens_per_second is None else d.tokens_per_second
                         for d in days], marker="o", color="tab:orange")
    bottom.set_ylabel("tokens/s (median)")
    figure.autofmt_xdate()
    return _png(figure)
