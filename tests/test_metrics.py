"""Prometheus metrics count what happens."""

from __future__ import annotations

from bot.config import Settings
from bot.pipeline.assistant import Inbound
from bot.pipeline.runtime import open_runtime


async def test_metrics_count_what_happens(settings: Settings) -> None:
    async with open_runtime(settings) as runtime:
        reply = await runtime.assistant.handle(Inbound("local", "m", "t", "Hello"))
        await reply.outcome()
        await runtime.assistant.handle(Inbound("local", "m", "t", ""))
        text = runtime.assistant.metrics.render().decode()
        assert 'causette_messages_total{tier="free"} 1.0' in text
        assert 'causette_refusals_total{reason="empty"} 1.0' in text
        assert "causette_first_token_seconds_count 1.0" in text
        assert "causette_queue_depth 0.0" in text
        assert "causette_engine_up 1.0" in text
        assert "causette_engine_failures_total 0.0" in text
        assert "causette_engine_restarts_total 0.0" in text
