"""The pipeline through the real model and real SQLite files."""

from __future__ import annotations

import asyncio

import pytest

from bot.assistant import Inbound
from bot.config import Settings
from bot.planning import clean_text
from bot.runtime import Runtime, open_runtime
from bot.store import StoredMessage


def msg(text: str, user: str = "ada", key: str = "terminal") -> Inbound:
    return Inbound("local", user, key, text)


async def stored(runtime: Runtime, user: str = "ada", key: str = "terminal"
                 ) -> list[StoredMessage]:
    return await runtime.assistant.history("local", user, key, limit=1000)


async def test_reply_comes_back_and_is_stored(runtime: Runtime) -> None:
    reply = await runtime.assistant.handle(msg("Hello, who are you?"))
    deltas = [d async for d in reply]
    outcome = await reply.outcome()
    assert outcome.status == "complete" and outcome.text == "".join(deltas) != ""
    turns = await stored(runtime)
    assert [(t.role, t.status) for t in turns] == [("user", "complete"),
                                                  ("assistant", "complete")]
    assert turns[1].content == outcome.text
    assert turns[1].completion_tokens == outcome.completion_tokens > 0


async def test_user_turn_is_committed_before_generation(runtime: Runtime) -> None:
    reply = await runtime.assistant.handle(msg("Tell me a joke."))
    turns = await stored(runtime)  # nothing consumed yet
    assert turns[0].role == "user" and turns[0].content == "Tell me a joke."
    await reply.outcome()


async def test_turn_n_prompt_holds_earlier_turns(runtime: Runtime) -> None:
    assistant = runtime.assistant
    for text in ("My name is Ada.", "I live in Lyon.", "I like tea."):
        await (await assistant.handle(msg(text))).outcome()
    history = await stored(runtime)
    plan = await asyncio.to_thread(assistant.planner.plan, "Be nice.", history, "Who am I?")
    contents = [m.content for m in plan.messages]
    assert contents[0] == "Be nice." and contents[-1] == "Who am I?"
    assert "My name is Ada." in contents and "I like tea." in contents
    assert plan.history_used == 6


async def test_prompt_respects_the_budget_keeping_newest(settings: Settings) -> None:
    small = settings.model_copy(update={"history_token_budget": 160})
    async with open_runtime(small) as runtime:
        assistant = runtime.assistant
        for i in range(8):
            await (await assistant.handle(msg(f"Fact {i}: the number {i} is nice."))).outcome()
        history = await stored(runtime)
        plan = await asyncio.to_thread(assistant.planner.plan, small.system_prompt, history,
                                       "And now?")
        assert runtime.engine.prompt_tokens(plan.messages) <= 160
        assert 0 < plan.history_used < len(history)
        assert plan.messages[-1].content == "And now?"
        kept = [m.content for m in plan.messages[1:-1]]
        newest = [clean_text(t.content) for t in history[-len(kept):]]
        assert kept == newest  # the newest turns, in order


async def test_huge_message_is_cut_with_a_note_and_stored_whole(runtime: Runtime) -> None:
    text = "All work and no play makes Jack a dull boy. " * 2300  # ~100,000 characters
    assert len(text) >= 100_000
    reply = await runtime.assistant.handle(msg(text))
    assert reply.refusal is None
    assert any("too long" in n for n in reply.notices)
    outcome = await reply.outcome()
    assert outcome.status == "complete"
    turns = await stored(runtime)
    assert turns[0].content == text  # what the user sent is kept, not the cut version


async def test_over_the_hard_limit_is_refused(settings: Settings) -> None:
    async with open_runtime(settings.model_copy(update={"max_message_chars": 1000})) as rt:
        reply = await rt.assistant.handle(msg("x" * 1001))
        assert reply.refusal and "too long" in reply.refusal
        assert [d async for d in reply] == []


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x00", "\x1b\x07\x00 "])
async def test_empty_message_gets_a_clear_refusal(runtime: Runtime, text: str) -> None:
    reply = await runtime.assistant.handle(msg(text))
    assert reply.refusal and "empty" in reply.refusal
    assert (await reply.outcome()).status is None


@pytest.mark.parametrize("text", ["caf\x00é au lait?", "🍝🍝 pasta 🇫🇷 ✨ ok?",
                                  "tab\there\r\nand bell\x07"])
async def test_odd_characters_get_a_reply_and_are_kept(runtime: Runtime, text: str) -> None:
    reply = await runtime.assistant.handle(msg(text))
    outcome = await reply.outcome()
    assert outcome.status == "complete"
    turns = await stored(runtime)
    # Kept as typed, except NUL (not text; PostgreSQL refuses it), shown as U+FFFD.
    assert turns[0].content == text.replace("\x00", "\ufffd")


async def test_cancel_mid_stream_stores_partial_as_cancelled(runtime: Runtime) -> None:
    reply = await runtime.assistant.handle(msg("Write a very long story about a dragon."))
    got = []
    async for delta in reply:
        got.append(delta)
        if len(got) == 4:
            reply.cancel()
    outcome = await reply.outcome()
    assert outcome.status == "cancelled"
    turns = await stored(runtime)
    assert turns[-1].status == "cancelled"
    assert turns[-1].content == outcome.text and turns[-1].content.startswith("".join(got[:4]))


async def test_four_conversations_at_once_all_complete(runtime: Runtime) -> None:
    users = ["ann", "bob", "cid", "dee"]
    replies = await asyncio.gather(*(runtime.assistant.handle(msg(f"Hi, I am {u}.", u))
                                     for u in users))
    outcomes = await asyncio.gather(*(r.outcome() for r in replies))
    assert all(o.status == "complete" and o.text for o in outcomes)
    for user in users:
        turns = await stored(runtime, user)
        assert [t.role for t in turns] == ["user", "assistant"]


async def test_full_queue_refuses_cleanly_and_keeps_the_turn(settings: Settings) -> None:
    one_slot = settings.model_copy(update={"queue_max": 1, "n_parallel": 1})
    async with open_runtime(one_slot) as runtime:
        assistant = runtime.assistant
        first = await assistant.handle(msg("Write a poem about the moon.", "u1"))
        async for _ in first:
            break
        second = await assistant.handle(msg("And one about the sun.", "u2"))
        third = await assistant.handle(msg("And the stars?", "u3"))
        assert third.refusal and "busy" in third.refusal
        assert [t.content for t in await stored(runtime, "u3")] == ["And the stars?"]
        assert (await first.outcome()).status == "complete"
        assert (await second.outcome()).status == "complete"


async def test_reset_starts_fresh_and_keeps_the_old(runtime: Runtime) -> None:
    await (await runtime.assistant.handle(msg("Remember: blue."))).outcome()
    await runtime.assistant.reset("local", "ada", "terminal")
    assert await stored(runtime) == []
    await (await runtime.assistant.handle(msg("Hello again."))).outcome()
    assert len(await stored(runtime)) == 2


async def test_shutdown_stores_in_flight_answers_as_cancelled(settings: Settings) -> None:
    async with open_runtime(settings.model_copy(update={"max_reply_tokens": 400})) as runtime:
        reply = await runtime.assistant.handle(msg("Write a long story."))
        async for _ in reply:
            break
    # open_runtime closed the engine, drained the finishers, and closed the store.
    async with open_runtime(settings) as runtime:
        turns = await stored(runtime)
        assert turns[-1].role == "assistant" and turns[-1].status == "cancelled"
