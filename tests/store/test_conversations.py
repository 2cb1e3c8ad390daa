"""Users, conversations and messages, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib

from bot.store import Store
from tests.support.clock import Clock, StoreOpener
from tests.support.store import NOW
from tests.support.whatsapp import until

# Portable: the same tests on SQLite and PostgreSQL -----------------------------------

async def test_turns_round_trip_and_reset_keeps_old(open_store: StoreOpener) -> None:
    store = await open_store()
    user = await store.ensure_user("local", "ada")
    assert await store.ensure_user("local", "ada") == user
    conv = await store.open_conversation(user, "terminal")
    assert await store.open_conversation(user, "terminal") == conv
    text = "héllo \x00 wörld 🙂"
    await store.add_message(conv, "user", text)
    reply = await store.add_message(conv, "assistant", "", status="streaming")
    await store.finish_message(reply, "hi there", "complete", prompt_tokens=12,
                               completion_tokens=3, stop_reason="stop")
    turns = await store.messages(conv)
    # NUL is not text (PostgreSQL refuses it): both stores keep a visible stand-in.
    assert [(t.role, t.content, t.status) for t in turns] == [
        ("user", "héllo \ufffd wörld 🙂", "complete"), ("assistant", "hi there", "complete")]
    assert turns[1].completion_tokens == 3 and turns[1].prompt_tokens == 12
    fresh = await store.reset_conversation(user, "terminal")
    assert fresh != conv
    assert await store.messages(fresh) == []
    assert len(await store.messages(conv)) == 2  # the old conversation is still stored
    assert [t.content for t in await store.messages(conv, limit=1)] == ["hi there"]


async def test_concurrent_writers_lose_nothing(open_store: StoreOpener) -> None:
    store = await open_store()
    conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
    await asyncio.gather(*(store.add_message(conv, "user", f"m{i}") for i in range(50)))
    assert sorted(t.content for t in await store.messages(conv)) == sorted(
        f"m{i}" for i in range(50))


async def test_concurrent_first_messages_share_one_user_and_conversation(
        open_store: StoreOpener) -> None:
    store = await open_store()
    users = await asyncio.gather(*(store.ensure_user("local", "new") for _ in range(20)))
    assert len(set(users)) == 1
    conversations = await asyncio.gather(*(store.open_conversation(users[0], "k")
                                           for _ in range(20)))
    assert len(set(conversations)) == 1


async def test_crashed_answers_become_interrupted_on_reopen(open_store: StoreOpener) -> None:
    clock = Clock(NOW)
    store = await open_store(clock)
    conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
    reply = await store.add_message(conv, "assistant", "partial", status="streaming")
    await store.close()  # as if the process died mid-answer
    store = await open_store(clock)
    stored = await store.message(reply)
    assert stored is not None
    if store.dialect == "postgresql":
        # Another process may be streaming it right now: only a stale one is cut off.
        assert stored.status == "streaming"
        await store.close()
        clock.advance(minutes=11)
        store = await open_store(clock)
        stored = await store.message(reply)
        assert stored is not None
    assert (stored.status, stored.content) == ("interrupted", "partial")


# PostgreSQL's own ------------------------------------------------------------------

async def test_a_running_process_sweeps_only_stale_answers(postgres_url: str) -> None:
    from bot.pipeline.runtime import _sweep_loop

    clock = Clock(NOW)
    store = await Store.connect(postgres_url, clock=clock)
    try:
        conv = await store.open_conversation(await store.ensure_user("local", "x"), "k")
        dead = await store.add_message(conv, "assistant", "cut off", status="streaming")
        clock.advance(minutes=11)
        live = await store.add_message(conv, "assistant", "still going", status="streaming")
        rounds: list[int] = []
        sweep = store.sweep_interrupted

        async def counted() -> int:  # the real sweep, its rounds counted
            swept = await sweep()
            rounds.append(swept)
            return swept

        store.sweep_interrupted = counted  # type: ignore[method-assign]
        sweeper = asyncio.create_task(_sweep_loop(store, every_s=0.01))

        async def three_rounds() -> bool:
            return len(rounds) >= 3

        await until(three_rounds, "three sweeps")  # each saw both answers
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        assert rounds[0] == 1 and sum(rounds) == 1  # the stale one, once; never the live one
        statuses = [(await store.message(m)).status for m in (dead, live)]  # type: ignore[union-attr]
        assert statuses == ["interrupted", "streaming"]
    finally:
        await store.close()
