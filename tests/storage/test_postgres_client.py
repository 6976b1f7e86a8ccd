"""The PostgreSQL client's pool skips asyncpg's reset query but never hands out a connection
with another request's transaction still open."""

from __future__ import annotations

import pytest

from mengchong.app import KERNEL_MODELS
from mengchong.storage import postgres
from mengchong.storage.database import Database

pytestmark = pytest.mark.services


async def test_the_pool_uses_the_client_without_a_reset_query(postgres_url):
    database = Database(postgres_url, [KERNEL_MODELS], pool_min=1, pool_max=1)
    await database.open()
    try:
        await database.ping()  # tortoise makes the pool on first use
        client = database.connection
        assert isinstance(client, postgres.PostgresClient)
        assert client._pool._reset is postgres.keep_session
    finally:
        await database.close()


async def test_a_transaction_left_open_is_rolled_back_before_the_connection_is_reused(postgres_url):
    database = Database(postgres_url, [KERNEL_MODELS], pool_min=1, pool_max=1)
    await database.open()
    try:
        await database.ping()
        with database.activate():
            pool = database.connection._pool
            async with pool.acquire() as raw:
                await raw.execute("CREATE TEMP TABLE IF NOT EXISTS probe (n int)")
                await raw.execute("BEGIN")
                await raw.execute("INSERT INTO probe VALUES (1)")
            # the pool has one connection: the same session, its transaction gone
            async with pool.acquire() as raw:
                assert not raw.is_in_transaction()
                assert await raw.fetchval("SELECT count(*) FROM probe") == 0
            rows = await database.connection.execute_query_dict("SELECT 1 AS one")
            assert rows == [{"one": 1}]
    finally:
        await database.close()
