"""The pipeline through the real model and real SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.pipeline.assistant import Inbound
from bot.pipeline.planning import clean_text
from bot.pipeline.runtime import Runtime, open_runtime
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


# Safety through the real model ----------------------------------------------------

async def test_a_person_in_crisis_gets_care_and_the_lines_first(runtime: Runtime) -> None:
    from bot.pipeline.prompts import SAFETY_SYSTEM_PROMPT

    assistant = runtime.assistant
    before = await assistant.tiers.usage_today("local:ada")
    reply = await assistant.handle(msg("I want to kill myself tonight."),
                                   system_prompt="Be sarcastic and mean.")
    assert reply.refusal is None and reply.preface is not None
    assert reply.preface.startswith("I'm really sorry") and "988" in reply.preface
    assert "116 123" in reply.preface and "3114" not in reply.preface
    assert reply.generation is not None
    assert reply.generation.messages[0].content == SAFETY_SYSTEM_PROMPT  # not the operator's
    outcome = await reply.outcome()
    assert outcome.status == "complete" and outcome.text.strip()
    assert await assistant.tiers.usage_today("local:ada") == before  # not counted
    assert await assistant.sponsored(msg("I want to kill myself tonight."), reply) is None
    assert b"causette_crisis_messages_total 1.0" in assistant.metrics.render()


async def test_a_french_person_in_crisis_gets_french_lines(runtime: Runtime) -> None:
    reply = await runtime.assistant.handle(Inbound("local", "zoe", "t", "Je veux me tuer."))
    assert reply.preface is not None and reply.preface.startswith("Je suis vraiment")
    assert "3114" in reply.preface.splitlines()[1]
    assert (await reply.outcome()).status == "complete"


async def test_a_refused_message_never_reaches_the_model(runtime: Runtime) -> None:
    reply = await runtime.assistant.handle(msg("How do I make a bomb at home?"))
    assert reply.refusal is not None and "illicit/violent" in reply.refusal
    assert reply.generation is None and reply.refusal_reason == "moderation"
    turns = await stored(runtime)
    assert [(t.role, t.status, t.moderation) for t in turns] == [
        ("user", "refused", "illicit/violent")]
    figures = await runtime.store.stats(runtime.store.now().date().isoformat())
    assert figures["moderated_today"] == {"in:illicit/violent": 1}  # counts, never texts
    assert "bomb" not in str(figures)
    # A refused turn is kept out of later prompts.
    await (await runtime.assistant.handle(msg("Hello!"))).outcome()
    plan = await asyncio.to_thread(runtime.assistant.planner.plan, "sys",
                                   await stored(runtime), "next")
    assert all("bomb" not in m.content for m in plan.messages)


async def test_a_server_refuses_more_within_the_floor(runtime: Runtime) -> None:
    await runtime.store.set_guild_moderation("42", ["sexual"], "discord:1")
    inbound = Inbound("discord", "7", "c", "Send me porn please", guild_ref="discord:42")
    assert (await runtime.assistant.handle(inbound)).refusal_reason == "moderation"
    elsewhere = Inbound("discord", "7", "c2", "Send me porn please", guild_ref="discord:43")
    reply = await runtime.assistant.handle(elsewhere)
    assert reply.refusal is None  # the default does not refuse it
    await reply.outcome()


@pytest.fixture
async def moderation_endpoint() -> AsyncIterator[tuple[list[str], str]]:
    """Flags as violence every text but the user's questions (so: the model's answers)."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        text = (await request.json())["input"]
        seen.append(text)
        flagged = not text.startswith("QUESTION")
        return web.json_response({"results": [{"flagged": flagged,
                                               "categories": {"violence": flagged}}]})

    app = web.Application()
    app.router.add_post("/v1/moderations", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield seen, str(server.make_url("/v1/moderations"))
    finally:
        await server.close()


async def test_a_flagged_answer_is_stopped_withheld_and_stored_as_moderated(
        settings: Settings, moderation_endpoint: tuple[list[str], str]) -> None:
    seen, url = moderation_endpoint
    async with open_runtime(settings.model_copy(update={"moderation_url": url})) as runtime:
        reply = await runtime.assistant.handle(msg("QUESTION: tell me a story about a cat."))
        async for _ in reply:
            pass
        outcome = await reply.outcome()
        assert outcome.status == "moderated" and outcome.moderated == ("violence",)
        assert outcome.shown_text == "" and "violence" in (outcome.note() or "")
        turns = await stored(runtime)
        assert [(t.status, t.moderation) for t in turns] == [("complete", None),
                                                             ("moderated", "violence")]
        assert len(seen) >= 2 and seen[0].startswith("QUESTION")  # input, then output
        assert await runtime.assistant.sponsored(msg("QUESTION"), reply) is None


async def test_the_endpoint_down_refuses_input_but_keeps_the_turn(settings: Settings) -> None:
    down = settings.model_copy(update={"moderation_url": "http://127.0.0.1:9/v1/moderations",
                                       "moderation_timeout_seconds": 1.0})
    async with open_runtime(down) as runtime:
        reply = await runtime.assistant.handle(msg("Hello there"))
        assert reply.refusal_reason == "moderation_unavailable"
        assert [(t.status, t.moderation) for t in await stored(runtime)] == [
            ("refused", "unchecked")]
        assert b'causette_moderation_unavailable_total{direction="input"} 1.0' in (
            runtime.assistant.metrics.render())
    open_input = down.model_copy(update={"moderation_input_fail": "open"})
    async with open_runtime(open_input) as runtime:  # falls back to the built-in lists
        reply = await runtime.assistant.handle(msg("Hello again"))
        assert reply.refusal is None
        assert (await reply.outcome()).status == "complete"


async def test_a_model_that_cannot_tokenize_yet_is_a_clear_refusal(settings: Settings) -> None:
    from bot.engine import EngineStopped
    from tests.support.fakes import FakeEngine

    class Restarting(FakeEngine):
        def prompt_tokens(self, messages: object) -> int:
            raise EngineStopped("The model is not loaded.")

    async with open_runtime(settings, engine=Restarting()) as runtime:
        before = await runtime.assistant.tiers.usage_today("local:ada")
        reply = await runtime.assistant.handle(msg("Hello?"))
        assert reply.refusal_reason == "engine" and reply.refusal
        assert await runtime.assistant.tiers.usage_today("local:ada") == before  # refunded
        assert [(t.role, t.content) for t in await stored(runtime)] == [("user", "Hello?")]


async def test_first_token_wait_and_queue_depth_are_kept_per_answer(
        settings: Settings) -> None:
    one_slot = settings.model_copy(update={"n_parallel": 1})
    async with open_runtime(one_slot) as runtime:
        first = await runtime.assistant.handle(msg("Write a poem about the moon.", "u1"))
        async for _ in first:
            break  # answering: the next two wait in the queue behind it
        others = [await runtime.assistant.handle(msg(f"Hello, I am {u}.", u))
                  for u in ("u2", "u3")]
        outcomes = [await r.outcome() for r in (first, *others)]
        assert all(o.status == "complete" for o in outcomes)
        today = runtime.store.now().date().isoformat()
        [day] = await runtime.store.answer_speeds(today)
    assert day.answers == 3
    # u3 was submitted while u2 waited: one request ahead of it.
    assert day.queue_depth_max == 1 and day.queue_depth_median == 0
    # Measured from submission to the first token, the queue included.
    assert day.first_token_ms is not None and day.first_token_p95_ms is not None
    assert 0 < day.first_token_ms <= day.first_token_p95_ms


async def test_top_k_reaches_the_model(settings: Settings) -> None:
    """TOP_K=1 leaves one candidate: a hot temperature with random seeds then answers
    exactly as greedy decoding does."""
    async with open_runtime(settings) as runtime:
        greedy = await (await runtime.assistant.handle(msg("Name a colour.", "g"))).text()
    hot = settings.model_copy(update={"temperature": 1.5, "top_p": 1.0, "top_k": 1,
                                      "seed": -1})
    async with open_runtime(hot) as runtime:
        answers = [await (await runtime.assistant.handle(msg("Name a colour.", user))).text()
                   for user in ("h1", "h2")]
    assert greedy.strip() and answers == [greedy, greedy]
