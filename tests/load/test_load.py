"""200 simulated users through the pipeline on the real model, for a bounded time."""

from __future__ import annotations

from bench.load import run


async def test_two_hundred_users_lose_nothing() -> None:
    # Evicted conversations' KV may fill KV_SAVE_MB (by design); nothing else may grow.
    figures = await run(users=200, messages=2, spread_s=6.0, kv_save_mb=16)
    print("\nload:", figures)  # the figures, for the record (pytest -s shows them)
    assert figures["messages_sent"] == 400
    assert figures["accepted"] + figures["refused_busy"] == 400
    assert figures["refused_other"] == 0
    # Every refusal said "busy", after storing the user's turn.
    assert figures["refused_explicit"] == figures["refused_busy"]
    assert figures["answered_share"] == 1.0  # every accepted message has its answer
    # The queue (16) was kept full, not starved: at least a queue's worth got through.
    assert figures["accepted"] >= 16
    assert figures["incomplete"] == 0
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert figures["user_turns_stored"] == 400  # refused ones are stored too
    assert figures["answers_complete"] == figures["accepted"]
    growth = figures["rss_after_mb"] - figures["rss_before_mb"]
    assert growth < 60 + figures["kv_save_mb"]  # flat, within noise and the saved KV
