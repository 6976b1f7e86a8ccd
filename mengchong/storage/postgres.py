"""tortoise's asyncpg client with one round trip less per query: the pool does not reset a
connection's session each time it goes back to the pool.

asyncpg's default reset sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
ALL`` on every release, and tortoise releases after every statement outside a transaction, so
a one-query request paid two round trips. Nothing here changes session state (no LISTEN,
session ``SET``, advisory locks or cursors held across statements), and asyncpg still rolls
back a transaction left open on release, so there is nothing to reset. Code that does change
the session must restore it itself or use a connection of its own.

Timeouts (:func:`timeouts`): PostgreSQL itself cancels a statement past ``statement_timeout``
(set per connection at connect, in the startup packet, so it is the session's default and costs
no round trip), which aborts its transaction: a statement the client gave up on is not left
running, and a transaction whose statement was cancelled can only roll back. asyncpg's
``command_timeout`` (one second later) is for a server that does not answer at all (frozen, or
the network gone): it also bounds the CancelRequest asyncpg sends when a query is abandoned
(the request deadline cancelled it), which otherwise waits for ever on a frozen server and holds
the request's rollback with it. Measured: ~3 µs of a ~100 µs pooled ``SELECT 1``, within noise.

The pool hands its connections out first come, first served (:class:`FairPool`). Migrations
take :func:`migration_lock`, so processes migrating one database at once go one after another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionContextPooled
from tortoise.connection import get_connections

ENGINE = __name__
CLIENT_GRACE_SECONDS = 1.0  # the server's own statement_timeout answers first
MIGRATION_LOCK = 0x6D656E67  # "meng": the advisory lock key of every migrating process


def timeouts(connect_timeout: float, statement_timeout: float) -> dict[str, Any]:
    """asyncpg connection options: connect within ``connect_timeout``; with a
    ``statement_timeout`` (0: none), the server cancels longer statements and the client gives up
    :data:`CLIENT_GRACE_SECONDS` later."""
    options: dict[str, Any] = {"timeout": connect_timeout}
    if statement_timeout > 0:
        options["server_settings"] = {"statement_timeout": str(round(statement_timeout * 1000))}
        options["command_timeout"] = statement_timeout + CLIENT_GRACE_SECONDS
    return options


@asynccontextmanager
async def migration_lock(credentials: dict[str, Any], connect_timeout: float) -> AsyncIterator[None]:
    """Hold the session advisory lock :data:`MIGRATION_LOCK` on a connection of its own while the
    body migrates. Two processes migrating one database at once (replicas started together with
    ``serve --migrate``) both found a table missing and the second failed creating it; now the
    second waits, then finds the schema up to date. The lock ends with its session, also when
    the process dies."""
    connection = await asyncpg.connect(
        host=credentials.get("host"),
        port=credentials.get("port"),
        user=credentials.get("user"),
        password=credentials.get("password"),
        database=credentials.get("database"),
        ssl=credentials.get("ssl"),
        timeout=connect_timeout,
    )
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        yield
    finally:
        await connection.close()


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing beyond asyncpg's own rollback of an open transaction."""


class PooledTransaction(TransactionContextPooled):
    """tortoise's pooled transaction, minus a leak: when ``BEGIN`` fails or is cancelled (the
    request deadline, a frozen server), tortoise's ``__aenter__`` keeps the acquired connection
    and never runs ``__aexit__``, so the pool loses it for good; enough of those and every
    request waits for a connection. Here the connection is closed (its state is unknown) and
    handed back."""

    async def __aenter__(self) -> Any:
        try:
            return await super().__aenter__()
        except BaseException:
            connection = self.client._connection
            pool = self.client._parent._pool
            if connection is not None and pool is not None:
                connection.terminate()  # at once: no round trip to a server that may not answer
                await pool.release(connection)
            if getattr(self, "token", None) is not None:
                get_connections().reset(self.token)
            raise


class FairPool(asyncpg.Pool):
    """asyncpg's pool, its connections handed out first come, first served.

    asyncpg waits for a free connection on an asyncio queue, which is not fair: a request that
    arrives just as a connection comes back takes it ahead of those already waiting, and a woken
    waiter that finds it gone goes to the end of the line again. Under load a few requests wait
    many turns: a check-in's p99 was 3x its baseline's, whose pool is fair. A semaphore of the
    pool's size in front (asyncio's queues newcomers behind its waiters) restores the order."""

    def __init__(self, *args: Any, max_size: int, **kwargs: Any) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._turns = asyncio.Semaphore(max_size)
        self._lent: set[PoolConnectionProxy] = set()

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's signature)
        started = time.monotonic()
        if timeout is None:  # every request's acquire: no timer to make and drop
            await self._turns.acquire()
        else:
            async with asyncio.timeout(timeout):
                await self._turns.acquire()
        try:
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            connection = await super()._acquire(left)
        except BaseException:
            self._turns.release()
            raise
        self._lent.add(connection)
        return connection

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        # A turn is given back once per connection handed out, even one that was terminated
        # (asyncpg has detached it already): not for a second release or another pool's.
        lent = connection in self._lent
        self._lent.discard(connection)
        try:
            await super().release(connection, timeout=timeout)
        finally:
            if lent:
                self._turns.release()


def fair_pool(dsn: str | None = None, **kwargs: Any) -> FairPool:
    """A :class:`FairPool` made as ``asyncpg.create_pool`` makes a pool (its defaults)."""
    options: dict[str, Any] = {
        "min_size": 10,
        "max_size": 10,
        "max_queries": 50_000,
        "max_inactive_connection_lifetime": 300.0,
        "loop": None,
        "connection_class": asyncpg.Connection,
        "record_class": asyncpg.Record,
    }
    return FairPool(dsn, **(options | kwargs))


class PostgresClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await fair_pool(reset=keep_session, **kwargs)

    def _in_transaction(self) -> PooledTransaction:
        return PooledTransaction(TransactionWrapper(self), self._pool_init_lock)


client_class = PostgresClient
