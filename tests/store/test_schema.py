"""Upgrading a database that holds data: version 7 on top of a version 6 database."""

from __future__ import annotations

import pytest

import bot.store.core
from bot.store import SCHEMA_VERSION
from tests.support.clock import StoreOpener


async def test_moderation_statuses_arrive_without_losing_rows_or_links(
        open_store: StoreOpener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.store.core, "SCHEMA_VERSION", 6)
    old = await open_store()
    assert await old.schema_version() == 6
    now = "2026-11-25T10:00:00+00:00"
    async with old._transaction() as db:
        await db.execute("INSERT INTO users (id, platform, external_id, created_at) "
                         "VALUES (1, 'whatsapp', '336', ?)", (now,))
        await db.execute("INSERT INTO conversations (id, user_id, key, created_at) "
                         "VALUES (1, 1, 'wa', ?)", (now,))
        for number, role in ((1, "user"), (2, "assistant")):
            await db.execute(
                "INSERT INTO messages (conversation_id, role, content, status, "
                "created_at, updated_at) VALUES (1, ?, ?, 'complete', ?, ?)",
                (role, f"turn {number}", now, now))
        row = await db.fetchrow("SELECT id FROM messages WHERE content = 'turn 2'")
        assert row is not None
        reply = int(row[0])
        await db.execute(
            "INSERT INTO processed_inbound (platform, message_id, received_at, status, "
            "reply_message_id) VALUES ('whatsapp', 'wamid.1', ?, 'answered', ?)", (now, reply))
    await old.close()
    monkeypatch.undo()

    store = await open_store()
    assert await store.schema_version() == SCHEMA_VERSION >= 7
    assert [m.content for m in await store.messages(1)] == ["turn 1", "turn 2"]
    link = await store._db.fetchrow(
        "SELECT reply_message_id FROM processed_inbound WHERE message_id = 'wamid.1'")
    assert link is not None and link[0] == reply  # the delivery still points at its reply
    refused = await store.add_message(1, "user", "bad", status="refused",
                                      moderation="violence")
    stored = await store.message(refused)
    assert stored is not None and (stored.status, stored.moderation) == ("refused",
                                                                         "violence")
    assert await store.integrity_check() == "ok"
    await store.add_message(1, "user", "next")  # ids keep counting past the copied rows


async def test_a_server_chooses_what_it_refuses(open_store: StoreOpener) -> None:
    store = await open_store()
    assert await store.guild_moderation("g1") is None
    await store.set_guild_moderation("g1", ["sexual", "violence", "sexual"], "admin")
    assert await store.guild_moderation("g1") == ["sexual", "violence"]
    await store.set_guild_moderation("g1", [], "admin")
    assert await store.guild_moderation("g1") == []  # chose to refuse nothing extra
    await store.set_guild_moderation("g1", None, "admin")
    assert await store.guild_moderation("g1") is None
