"""Redis commands and Lua scripts on the request hot path, called on connections of their own.

Every authenticated request makes one call of the auth guard's admission script
(:data:`mengchong.http.admission.ADMIT_LUA`). Through redis-py's client (``register_script``:
the client, its connection pool, its retry wrapper, an encoder call per argument, an event per
release) one call took 135-150 µs of this process's CPU on the benchmark machine; written with
hiredis' packer straight to a connection taken from a small first-come-first-served set, 22-48
µs. So :class:`CommandLane` does only that (and :class:`HotScript` runs a script on it): the
connections are made by the client's pool (same address, timeouts, keepalive and protocol) but
handed out here, and a connection whose call failed in any way (an error, a timeout, a
cancelled request) is disconnected before it is reused, so a late reply is never read as the
next call's. A command's reply is as parsed, without the client's reply callbacks (an HGET's
bytes or None are the same). On the in-process cache the client is used as before: nothing
there is a network round trip.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError

Arg = str | bytes | int | float


class CommandLane:
    """At most ``size`` connections of the client's pool, handed out first come, first served;
    ``await lane.execute("HGET", key, field)`` answers the command's reply as parsed, without
    redis-py's reply callbacks."""

    def __init__(self, client: aioredis.Redis, size: int = 32) -> None:
        self._pool = client.connection_pool
        self._size = size
        self._made: list[AbstractConnection] = []
        self._idle: list[AbstractConnection] = []
        self._waiters: deque[asyncio.Future[AbstractConnection]] = deque()

    async def execute(self, *command: Arg) -> Any:
        return await self._on_connection(lambda connection: self._call(connection, command))

    async def evalsha(self, sha: str, source: str, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """The script by its digest, or by its source when the server does not know it yet."""

        async def run(connection: AbstractConnection) -> Any:
            try:
                return await self._call(connection, ("EVALSHA", sha, len(keys), *keys, *args))
            except NoScriptError:  # an error reply: the connection is still in step
                return await self._call(connection, ("EVAL", source, len(keys), *keys, *args))

        return await self._on_connection(run)

    async def _on_connection(self, work: Callable[[AbstractConnection], Awaitable[Any]]) -> Any:
        """``work`` on a connection of the lane; one whose work failed in any way (an error, a
        timeout, a cancelled request) is disconnected, and reconnected by the next call."""
        connection = await self._acquire()
        try:
            return await work(connection)
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            self._release(connection)

    @staticmethod
    async def _call(connection: AbstractConnection, command: tuple[Arg, ...]) -> Any:
        reader = connection._reader
        if reader is None or reader.at_eof():  # never connected, or the server closed it
            await connection.disconnect()
            await connection.connect()
        writer = connection._writer  # redis-py's own send path would add an await and a copy
        assert writer is not None
        writer.write(hiredis.pack_command(command))
        return await connection.read_response()

    async def _acquire(self) -> AbstractConnection:
        if self._idle:
            return self._idle.pop()
        if len(self._made) < self._size:
            connection = self._pool.make_connection()
            self._made.append(connection)
            return connection
        waiter: asyncio.Future[AbstractConnection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())
            raise

    def _release(self, connection: AbstractConnection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    async def close(self) -> None:
        for connection in self._made:
            await connection.disconnect()


class HotScript:
    """``await script(keys=[...], args=[...])``: a Lua script run on a :class:`CommandLane`."""

    def __init__(self, lane: CommandLane, source: str) -> None:
        self.lane = lane
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        return await self.lane.evalsha(self.sha, self.source, keys, args)
