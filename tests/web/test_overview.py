"""The overview's engine health and answer speed: the model's stops and restarts from the
audit log, and per day the answers, their median duration, tokens/s, first-token wait
and queue depth, with a chart."""

from __future__ import annotations

from bot.store import utc_now
from tests.support.clock import Clock
from tests.web.conftest import Console


async def test_engine_health_and_speed_are_shown(console: Console) -> None:
    store = console.store
    page = await (await console.operator.get("/operator")).text()
    assert "No stop or restart of the model today." in page
    assert "No complete answers in the last days." in page

    await store.record_event("engine_stopped", "worker thread died")
    await store.record_event("engine_restarted", "attempt 1")
    clock = Clock(utc_now())
    store._clock = clock  # the answers below take a known time
    conversation = await store.open_conversation(await store.ensure_user("local", "ada"), "k")
    for seconds, tokens, first_ms, depth in ((2, 50, 120, 0), (4, 40, 480, 3)):
        turn = await store.add_message(conversation, "assistant", "", status="streaming")
        clock.advance(seconds=seconds)
        await store.finish_message(turn, "text never shown", "complete",
                                   completion_tokens=tokens, first_token_ms=first_ms,
                                   queue_depth=depth)  # 25 and 10 tokens/s
    page = await (await console.operator.get("/operator")).text()
    assert "restarted: 1, stopped: 1." in page and "was restarted" in page
    today = clock.now.date().isoformat()
    assert (f"<tr><td>{today}</td><td>2</td><td>3.00 s</td><td>17.5</td>"
            "<td>300 / 480 ms</td><td>1.5 / 3</td></tr>") in page
    assert "<span>3.0 s</span>median answer today" in page
    assert "<span>300 ms</span>first token today (median)" in page
    assert "<span>3</span>most requests queued today" in page
    assert "text never shown" not in page
    chart = await console.operator.get("/operator/speed.png")
    assert chart.content_type == "image/png"
    assert (await chart.read()).startswith(b"\x89PNG")

    await store.record_event("engine_gave_up", "3 restarts failed")
    page = await (await console.operator.get("/operator")).text()
    assert "gave up: 1" in page and "could not be restarted" in page
