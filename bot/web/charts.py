"""Every chart of the project, as PNG bytes: the console's overview (activity, speed) and
the sponsored-reply report (`/sponsors report`, the advertiser pages).

Drawn with matplotlib's object API (`Figure`), never pyplot: pyplot keeps global state
(the current figure, its registry) that is not thread-safe, and these run in worker
threads (asyncio.to_thread), several at once when reports and console pages overlap.
Drawing takes tens of ms: always call these off the event loop."""

from __future__ import annotations

import io
from typing import Any

from bot.money.campaigns import MICROS
from bot.money.reports import CampaignReport
from bot.store import DayFigures, DaySpeed


def _figure(rows: int, height: float) -> tuple[Any, list[Any]]:
    """A figure of `rows` stacked axes sharing the x axis; its own Agg canvas, no pyplot."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, height))
    axes = figure.subplots(rows, 1, sharex=True)
    return figure, list(axes)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def activity_chart(days: list[DayFigures]) -> bytes:
    """A PNG of answers, failures and refusals (bars) and active users (line) per day."""
    labels = [d.day for d in days]
    figure, (top, bottom) = _figure(2, 5)
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
    """A PNG of the median answer duration (bars), median tokens/s (line) and the first
    token's wait (median and 95th percentile) per day; days without a measured answer
    are gaps, not zeros."""
    labels = [d.day for d in days]
    nan = float("nan")

    def series(values: list[float | None]) -> list[float]:
        return [nan if v is None else v for v in values]

    figure, (top, middle, bottom) = _figure(3, 5.5)
    top.bar(labels, series([d.median_seconds for d in days]), color="tab:purple")
    top.set_ylabel("median seconds")
    top.set_title("Answer duration, speed and first-token wait per day")
    middle.plot(labels, series([d.tokens_per_second for d in days]), marker="o",
                color="tab:orange")
    middle.set_ylabel("tokens/s (median)")
    bottom.plot(labels, series([d.first_token_ms for d in days]), marker="o",
                color="tab:green", label="median")
    bottom.plot(labels, series([d.first_token_p95_ms for d in days]), marker="x",
                linestyle="--", color="tab:red", label="95th percentile")
    bottom.set_ylabel("first token (ms)")
    bottom.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    return _png(figure)


def render_chart(reports: list[CampaignReport], currency: str = "EUR") -> bytes:
    """A PNG of impressions, clicks and spend per day of these campaigns together."""
    days = sorted({d.day for r in reports for d in r.days})
    totals = {day: [0, 0, 0] for day in days}
    for report in reports:
        for d in report.days:
            totals[d.day][0] += d.impressions
            totals[d.day][1] += d.clicks
            totals[d.day][2] += d.spent_micros
    figure, (top, bottom) = _figure(2, 5)
    top.bar(days, [totals[d][0] for d in days], label="impressions")
    top.bar(days, [totals[d][1] for d in days], label="clicks")
    top.legend()
    top.set_title("Sponsored replies")
    bottom.plot(days, [totals[d][2] / MICROS for d in days], marker="o", color="tab:green")
    bottom.set_ylabel(f"spend ({currency})")
    figure.autofmt_xdate()
    return _png(figure)
