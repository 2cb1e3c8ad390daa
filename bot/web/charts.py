"""The overview's chart, drawn with matplotlib as `bot.ads.render_chart` draws the
sponsored-reply reports (one chart library for the console and /sponsors report).
Call these off the event loop (asyncio.to_thread): drawing takes tens of ms."""

from __future__ import annotations

import io

from bot.store import DayFigures


def activity_chart(days: list[DayFigures]) -> bytes:
    """A PNG of answers, failures and refusals (bars) and active users (line) per day."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

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
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
