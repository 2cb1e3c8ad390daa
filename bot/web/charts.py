"""The overview's charts, drawn with matplotlib as `bot.money.ads.render_chart` draws the
sponsored-reply reports (one chart library for the console and /sponsors report).
Call these off the event loop (asyncio.to_thread): drawing takes tens of ms."""

from __future__ import annotations

import io
from typing import Any

from bot.money.campaigns import MICROS
from bot.money.reports import CampaignReport
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
    """A PNG of the median answer duration (bars), median tokens/s (line) and the first
    token's wait (median and 95th percentile) per day; days without a measured answer
    are gaps, not zeros."""
    plt = _pyplot()
    labels = [d.day for d in days]
    nan = float("nan")

    def series(values: list[float | None]) -> list[float]:
        return [nan if v is None else v for v in values]

    figure, (top, middle, bottom) = plt.subplots(3, 1, figsize=(7, 5.5), sharex=True)
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
    """A PNG of impressions, clicks and spend per day (call it off the event loop)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    days = sorted({d.day for r in reports for d in r.days})
    totals = {day: [0, 0, 0] for day in days}
    for report in reports:
        for d in report.days:
            totals[d.day][0] += d.impressions
            totals[d.day][1] += d.clicks
            totals[d.day][2] += d.spent_micros
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.bar(days, [totals[d][0] for d in days], label="impressions")
    top.bar(days, [totals[d][1] for d in days], label="clicks")
    top.legend()
    top.set_title("Sponsored replies")
    bottom.plot(days, [totals[d][2] / MICROS for d in days], marker="o", color="tab:green")
    bottom.set_ylabel(f"spend ({currency})")
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
