"""The one chart module: matplotlib's Figure API only (pyplot's global state is not
thread-safe), and the same PNG whether drawn alone or from many threads at once."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from bot.money.reports import CampaignReport
from bot.store import Campaign, CampaignDay, DayFigures, DaySpeed
from bot.web import charts

PNG = b"\x89PNG\r\n\x1a\n"


def _report() -> CampaignReport:
    campaign = Campaign(1, "Acme", "h", "", "https://acme.example/", ("pasta",), (), ("en",),
                        5000, 10_000_000, None, 15, "2026-06-01T00:00:00+00:00",
                        "2026-07-01T00:00:00+00:00", "active", None, "op", "2026-06-01")
    days = [CampaignDay(1, f"2026-06-0{n}", n * 3, n, n * 5) for n in range(1, 4)]
    return CampaignReport(campaign, sum(d.impressions for d in days),
                          sum(d.clicks for d in days), days)


def _draw(which: int) -> bytes:
    if which == 0:
        return charts.render_chart([_report()], "EUR")
    if which == 1:
        return charts.activity_chart([DayFigures(f"2026-06-0{n}", 10 * n, n, 1, n, 100)
                                      for n in range(1, 4)])
    return charts.speed_chart([DaySpeed(f"2026-06-0{n}", n, 1.5, 20.0, 300.0, 500.0, 1, 2)
                               for n in range(1, 4)])


def test_no_chart_touches_pyplot() -> None:
    script = ("import sys\nfrom tests.web.test_charts import _draw\n"
              "[_draw(i) for i in range(3)]\n"
              "print('matplotlib.pyplot' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_charts_drawn_from_many_threads_are_the_ones_drawn_alone() -> None:
    alone = [_draw(i) for i in range(3)]
    assert all(png.startswith(PNG) for png in alone)
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(_draw, [i % 3 for i in range(24)]))
    assert together == [alone[i % 3] for i in range(24)]
