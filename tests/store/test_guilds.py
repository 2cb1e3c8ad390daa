"""Discord server settings (with personas and ad settings), on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support.clock import StoreOpener


async def test_server_settings_and_personas(open_store: StoreOpener) -> None:
    store = await open_store()
    await store.set_guild_rule("9", "channel", "5", "allow", "op")
    await store.set_guild_rule("9", "channel", "5", "block", "op")
    assert [(r.kind, r.mode) for r in await store.guild_rules("9")] == [("channel", "block")]
    await store.set_guild_rule("9", "channel", "5", None, "op")
    assert await store.guild_rules("9") == []
    await store.set_channel_prompt("9", "5", "Be brief.", "op")
    assert await store.channel_prompts("9") == {"5": "Be brief."}
    await store.set_persona("local:a", "a pirate")
    assert await store.persona("local:a") == "a pirate"
    await store.set_persona("local:a", None)
    assert await store.persona("local:a") is None
    await store.set_guild_ads("9", True, "op")
    assert await store.guild_ads("9") is True and await store.guild_ads("8") is None
    user = await store.ensure_user("local", "a")
    await store.set_personalize(user, True)
    assert await store.personalize(user)
