"""tortoise's asyncpg client with one round trip less per query: the pool does not reset a
connection's session each time it goes back to the pool.

asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
ALL`` on every release, and tortoise releases after every statement outside a transaction, so
a one-query request paid two round trips. Nothing here changes session state (no LISTEN,
session ``SET``, advisory locks or cursors held across statements), and asyncpg still rolls
back a transaction left open on release, so there is nothing to reset. Code that does change
the session must restore it itself or use a connection of its own.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

ENGINE = __name__


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing beyond asyncpg's own rollback of an open transaction."""


class PostgresClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await asyncpg.create_pool(None, reset=keep_session, **kwargs)


client_class = PostgresClient
