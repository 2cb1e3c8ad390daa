"""The web console's statements on both databases: advertisers own the campaigns the
operator linked to them by id, never a server's, sessions expire and are revoked,
failed logins are counted, figures per day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.store import Store
from tests.support.clock import Clock, StoreOpener

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _campaign(store: Store, advertiser: str, guild_id: str | None = None) -> int:
    return await store.add_campaign(
        advertiser=advertiser, headline="h", body="", url="https://x.example",
        keywords=["pasta"], categories=[], languages=["en"], cpm_micros=5000,
        budget_micros=1_000_000, daily_budget_micros=None, start_at="2026-03-01",
        end_at="2026-04-01", status="active", guild_id=guild_id, created_by="test")


async def test_only_the_operators_link_gives_a_campaign_to_an_advertiser(
        open_store: StoreOpener) -> None:
    store = await open_store()
    before = await _campaign(store, "Acme")
    acme = await store.add_advertiser("Acme", "hash-a", actor="test")
    after = await _campaign(store, "Acme")
    guilds = await _campaign(store, "Acme", guild_id="42")  # a server admin's "Acme"
    # A name links nothing, before or after the account exists.
    assert await store.advertiser_campaigns(acme.id) == []
    assert await store.link_campaign(before, acme.id, actor="operator")
    assert await store.link_campaign(after, acme.id, actor="operator")
    assert not await store.link_campaign(guilds, acme.id, actor="operator")
    assert not await store.link_campaign(after, 999, actor="operator")  # no such account
    assert not await store.link_campaign(999, acme.id, actor="operator")
    assert [c.id for c in await store.advertiser_campaigns(acme.id)] == [before, after]
    assert (await store.campaign(guilds)).advertiser_id is None  # type: ignore[union-attr]
    assert await store.advertiser_by_token_hash("hash-a") == acme
    assert await store.advertiser_by_token_hash("hash-b") is None
    assert [e.action for e in await store.audit_log(limit=5)][:2] == [
        "campaign link", "campaign link"]
    assert await store.link_campaign(before, None, actor="operator")
    assert [c.id for c in await store.advertiser_campaigns(acme.id)] == [after]


async def test_update_keeps_the_budget_above_the_spend(open_store: StoreOpener) -> None:
    store = await open_store()
    campaign_id = await _campaign(store, "Acme")
    assert await store.charge_impression(campaign_id, 400_000, user_id=None,  # type: ignore[arg-type]
                                         platform="local", matched="pasta", day="2026-03-02")
    terms = {"headline": "new", "body": "b", "url": "https://y.example", "keywords": ["k"],
             "categories": [], "languages": ["fr"], "cpm_micros": 6000,
             "daily_budget_micros": None, "start_at": "2026-03-01", "end_at": "2026-05-01",
             "actor": "test"}
    assert not await store.update_campaign(campaign_id, budget_micros=300_000, **terms)
    assert await store.update_campaign(campaign_id, budget_micros=2_000_000, **terms)
    updated = await store.campaign(campaign_id)
    assert updated is not None
    assert (updated.headline, updated.keywords, updated.budget_micros, updated.spent_micros) == (
        "new", ("k",), 2_000_000, 400_000)


async def test_sessions_expire_and_are_revoked(open_store: StoreOpener) -> None:
    clock = Clock(T0)
    store = await open_store(clock)
    acme = await store.add_advertiser("Acme", "hash-a", actor="test")
    await store.create_web_session("s1", role="operator", advertiser_id=None, csrf="c1",
                                   address="1.2.3.4", expires_at=T0 + timedelta(hours=1))
    await store.create_web_session("s2", role="advertiser", advertiser_id=acme.id, csrf="c2",
                                   address="1.2.3.4", expires_at=T0 + timedelta(hours=5))
    session = await store.web_session("s2")
    assert session is not None and (session.role, session.advertiser_id) == ("advertiser",
                                                                             acme.id)
    clock.advance(hours=2)
    assert await store.web_session("s1") is None  # expired
    assert await store.web_session("s2") is not None
    assert await store.replace_advertiser_token(acme.id, "hash-new", actor="test")
    assert await store.web_session("s2") is None  # a new token ends its sessions
    await store.create_web_session("s3", role="operator", advertiser_id=None, csrf="c3",
                                   address="x", expires_at=T0 + timedelta(hours=9))
    assert await store.revoke_web_session("s3")
    assert await store.web_session("s3") is None


async def test_login_failures_are_counted_per_address(open_store: StoreOpener) -> None:
    clock = Clock(T0)
    store = await open_store(clock)
    since = T0 - timedelta(minutes=1)
    attempts = await asyncio.gather(*(store.claim_login_attempt("1.2.3.4", since, 3)
                                      for _ in range(20)))
    assert sum(a is not None for a in attempts) == 3  # claimed at once: 3, not 20
    other = await store.claim_login_attempt("5.6.7.8", since, 3)
    assert other is not None
    assert await store.login_failures("1.2.3.4", since) == 3
    await store.forgive_login_attempt(other)  # it logged in
    assert await store.login_failures("5.6.7.8", since) == 0
    await store.claim_login_attempt("5.6.7.8", since, 3)
    clock.advance(minutes=20)
    assert await store.login_failures("1.2.3.4", clock.now - timedelta(minutes=15)) == 0
    assert await store.forget_login_failures(clock.now - timedelta(minutes=15)) == 4


async def test_daily_figures(open_store: StoreOpener) -> None:
    clock = Clock(T0)
    store = await open_store(clock)
    for name in ("ada", "bob"):
        user = await store.ensure_user("local", name)
        conversation = await store.open_conversation(user, "k")
        await store.add_message(conversation, "user", "hi", status="complete")
        answer = await store.add_message(conversation, "assistant", "", status="streaming")
        await store.finish_message(answer, "hello", "complete", completion_tokens=3)
    clock.advance(days=1)
    figures = await store.daily_figures("2026-03-01")
    assert [(d.day, d.answers, d.active_users, d.completion_tokens) for d in figures] == [
        ("2026-03-02", 2, 2, 6)]


async def test_answer_speeds_per_day(open_store: StoreOpener) -> None:
    clock = Clock(T0)
    store = await open_store(clock)
    user = await store.ensure_user("local", "ada")
    conversation = await store.open_conversation(user, "k")

    async def answer(seconds: float, tokens: int | None, status: str = "complete",
                     first_ms: int | None = None, depth: int | None = None) -> None:
        turn = await store.add_message(conversation, "assistant", "", status="streaming")
        clock.advance(seconds=seconds)
        await store.finish_message(turn, "hello", status,  # type: ignore[arg-type]
                                   completion_tokens=tokens, first_token_ms=first_ms,
                                   queue_depth=depth)

    await answer(2, 40, first_ms=100, depth=0)     # 20 tok/s
    await answer(4, 40, first_ms=300, depth=2)     # 10 tok/s
    await answer(10, 300, first_ms=200, depth=1)   # 30 tok/s
    await answer(1, None)   # a duration, no token count, no wait known (before schema 10)
    await answer(50, 5, status="failed", first_ms=9000, depth=9)  # not complete: not measured
    # Stored whole at once (no time passed): counted, not measured.
    await store.add_message(conversation, "assistant", "canned", status="complete")
    clock.advance(days=1)
    await answer(0.5, 100)  # 200 tok/s, the next day
    speeds = await store.answer_speeds("2026-03-01")
    assert [(d.day, d.answers, d.median_seconds, d.tokens_per_second) for d in speeds] == [
        ("2026-03-02", 5, 3.0, 20.0), ("2026-03-03", 1, 0.5, 200.0)]
    assert [(d.first_token_ms, d.first_token_p95_ms, d.queue_depth_median, d.queue_depth_max)
            for d in speeds] == [(200.0, 300.0, 1, 2), (None, None, None, None)]
    assert await store.answer_speeds("2026-03-04") == []
