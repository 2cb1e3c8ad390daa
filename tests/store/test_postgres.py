"""PostgreSQL's own: clear connection errors, and a dropped connection replaced."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import Store, StoreError


async def test_unreachable_postgresql_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot connect") as caught:
        await Store.connect("postgresql://bot:s3cret@127.0.0.1:1/causette")
    assert "s3cret" not in str(caught.value)  # the password never reaches a message


async def test_missing_postgresql_database_is_a_clear_error(postgres_url: str) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await Store.connect(postgres_url.replace("/t_", "/missing_"))


async def test_a_dropped_postgresql_connection_is_replaced(
        postgres_url: str) -> None:
    store = await Store.connect(postgres_url, pool_size=1)
    try:
        user = await store.ensure_user("local", "ada")
        # The server ends every other session (a failover, an admin, a restart).
        other = await Store.connect(postgres_url, pool_size=1)
        try:
            await other.driver.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        finally:
            await other.close()
        await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connection
        assert await store.ensure_user("local", "ada") == user  # the pool reconnected
    finally:
        await store.close()
