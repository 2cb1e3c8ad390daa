"""Operators' live figures, exposed to Prometheus on 127.0.0.1 when METRICS_PORT is set.

Each runtime has its own registry (no process-wide globals), so tests and several bots
in one process never mix their counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server

log = logging.getLogger(__name__)


class Metrics:
    """Counters and gauges for tokens/s, queue, first token, tiers, refusals and ads."""

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

    def answered(self, tier: str, tokens: int, first_token_s: float | None,
                 tokens_per_second: float | None) -> None:
        """One answer finished."""
        self.messages.labels(tier=tier).inc()
        self.tokens.inc(tokens)
        if first_token_s is not None:
            self.first_token.observe(first_token_s)
        if tokens_per_second:
            self.tokens_per_second.set(tokens_per_second)

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
