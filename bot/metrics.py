"""Operators' live figures, exposed to Prometheus on 127.0.0.1 when METRICS_PORT is set.

Each runtime has its own registry (no process-wide globals), so tests and several bots
in one process never mix their counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server

log = logging.getLogger(__name__)


class Metrics:
    """Counters and gauges for tokens/s, queue, first token, tiers, refusals, ads and the
    engine's health."""

    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("causette_messages_total", "Messages answered, by tier",
                                ["tier"], registry=r)
        self.refusals = Counter("causette_refusals_total", "Messages refused, by reason",
                                ["reason"], registry=r)
        self.tokens = Counter("causette_completion_tokens_total", "Tokens generated", registry=r)
        self.first_token = Histogram(
            "causette_first_token_seconds", "Time from request to first token", registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.tokens_per_second = Gauge("causette_decode_tokens_per_second",
                                       "Decode speed of the last answer", registry=r)
        self.queue = Gauge("causette_queue_depth", "Requests waiting for the model", registry=r)
        if queue_depth is not None:
            self.queue.set_function(queue_depth)
        self.ad_impressions = Counter("causette_ad_impressions_total", "Sponsored blocks shown",
                                      registry=r)
        self.ad_clicks = Counter("causette_ad_clicks_total", "Sponsored clicks", registry=r)
        self.ad_spend = Counter("causette_ad_spend_micros_total",
                                "Ad spend charged, in micro-units", registry=r)
        self.engine_up = Gauge("causette_engine_up",
                               "1 while the model serves requests, 0 while it is stopped",
                               registry=r)
        self.engine_up.set(1)
        self.engine_failures = Counter("causette_engine_failures_total",
                                       "Times the model's worker stopped", registry=r)
        self.engine_restarts = Counter("causette_engine_restarts_total",
                                       "Times the model was restarted after it stopped",
                                       registry=r)
        # Safety: counts only, never texts.
        self.crises = Counter("causette_crisis_messages_total",
                              "Messages answered with the crisis lines", registry=r)
        self.moderations = Counter("causette_moderated_total",
                                   "Messages refused or answers withheld, by category",
                                   ["direction", "category"], registry=r)
        self.moderation_errors = Counter(
            "causette_moderation_unavailable_total",
            "Checks the moderation endpoint could not answer", ["direction"], registry=r)

    def watch_engine(self, healthy: Callable[[], bool]) -> None:
        """Read the engine's health at each scrape."""
        self.engine_up.set_function(lambda: 1.0 if healthy() else 0.0)

    def engine_failed(self) -> None:
        """The model's worker stopped."""
        self.engine_failures.inc()

    def engine_restarted(self) -> None:
        """The model was restarted after it stopped."""
        self.engine_restarts.inc()

    def answered(self, tier: str, tokens: int, first_token_s: float | None,
                 tokens_per_second: float | None) -> None:
        """One answer finished."""
        self.messages.labels(tier=tier).inc()
        self.tokens.inc(tokens)
        if first_token_s is not None:
            self.first_token.observe(first_token_s)
        if tokens_per_second:
            self.tokens_per_second.set(tokens_per_second)

    def crisis(self) -> None:
        """A message answered with the crisis lines."""
        self.crises.inc()

    def moderated(self, direction: str, categories: Iterable[str]) -> None:
        """A message refused (input) or an answer withheld (output), by category."""
        for category in categories:
            self.moderations.labels(direction=direction, category=category).inc()

    def moderation_unavailable(self, direction: str) -> None:
        """The moderation endpoint could not answer a check."""
        self.moderation_errors.labels(direction=direction).inc()

    def refused(self, reason: str) -> None:
        """One message refused (quota, rate, busy, empty...)."""
        self.refusals.labels(reason=reason).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

    def serve(self, port: int) -> None:
        """Expose /metrics on 127.0.0.1:port (never on other interfaces)."""
        _start_http_server(port, addr="127.0.0.1", registry=self.registry)
        log.info("metrics on http://127.0.0.1:%s/metrics", port)
