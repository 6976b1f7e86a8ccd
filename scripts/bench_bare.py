"""What every baseline of ``scripts/bench_baseline.py`` is built on, NOT part of the product: the
way ``../shared/peers/nestjs/aiohttp_ceiling.py`` (the "Python ceiling") serves, so a baseline is
as fast as bare Python goes and a ratio to it is not flattered.

- aiohttp's low-level server (``web.Server``) and a dict of paths instead of an Application, its
  router and middleware chain.
- :class:`FairPool`: a fixed set of connections handed out first come, first served, without
  asyncpg Pool's reset round trip and proxy per acquire, or redis-py ConnectionPool's cost per
  command. The ceiling's own pool, copied (its file is read-only for this project).
- PyJWS for the signature and the claims checked by hand, as the ceiling does, on every request
  (no cache of verified tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import jwt
import orjson
from aiohttp import web
from redis.asyncio.connection import Connection as RedisConnection

C = TypeVar("C")
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
Routes = dict[str, dict[str, Handler]]


class FairPool(Generic[C]):
    """A fixed set of connections; a released one goes straight to the oldest waiter, a broken
    one is replaced in the background."""

    def __init__(self, connect: Callable[[], Awaitable[C]], size: int, broken: Callable[[C], bool]) -> None:
        self._connect, self._size, self._broken = connect, size, broken
        self._free: list[C] = []
        self._waiters: deque[asyncio.Future[C]] = deque()
        self._all: set[C] = set()
        self._replacing: set[asyncio.Future[None]] = set()

    async def open(self) -> FairPool[C]:
        for _ in range(self._size):
            connection = await self._connect()
            self._all.add(connection)
            self._free.append(connection)
        return self

    async def acquire(self) -> C:
        if self._free:
            return self._free.pop()
        waiter: asyncio.Future[C] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise

    def release(self, connection: C) -> None:
        if self._broken(connection):
            self._all.discard(connection)
            self._replacing.add(task := asyncio.ensure_future(self._replace()))
            task.add_done_callback(self._replacing.discard)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._free.append(connection)

    async def _replace(self) -> None:
        while True:
            try:
                connection = await self._connect()
                break
            except Exception:
                await asyncio.sleep(0.5)
        self._all.add(connection)
        self.release(connection)

    async def close(self, close_one: Callable[[C], Awaitable[Any]]) -> None:
        for connection in list(self._all):
            with contextlib.suppress(Exception):
                await close_one(connection)


@dataclass
class Bare:
    """The baselines' connections and token check, shared by every baseline module."""

    pg: FairPool[asyncpg.Connection]
    redis: FairPool[RedisConnection]
    secret: bytes
    issuer: str
    audience: str
    kid: str

    async def redis_command(self, *args: Any) -> Any:
        """One command on a pooled redis-py Connection (send_command + read_response)."""
        connection = await self.redis.acquire()
        try:
            await connection.send_command(*args)
            return await connection.read_response()
        except BaseException:
            await connection.disconnect()  # the reply stream may be out of step: reconnect
            raise
        finally:
            self.redis.release(connection)

    def claims_of(self, request: web.BaseRequest) -> dict[str, Any] | web.Response:
        """The token's claims, checked as the product checks them (HS256, kid, exp, iss, aud,
        sub); a 401 response otherwise."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return json_response({"code": 40101, "message": "Missing bearer token"}, 401)
        try:
            decoded = _JWS.decode_complete(header[7:], self.secret, algorithms=["HS256"])
            claims = orjson.loads(decoded["payload"])
        except (jwt.PyJWTError, ValueError):
            claims = None
        if (
            type(claims) is not dict
            or decoded["header"].get("kid") != self.kid
            or not isinstance(claims.get("exp"), int)
            or claims["exp"] <= time.time()
            or claims.get("iss") != self.issuer
            or claims.get("aud") != self.audience
            or not isinstance(claims.get("sub"), str)
        ):
            return json_response({"code": 40101, "message": "Invalid token"}, 401)
        return claims


_JWS = jwt.PyJWS()


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def not_found(request: web.BaseRequest) -> web.Response:
    return json_response({"code": 40401, "message": f"Cannot {request.method} {request.path}"}, 404)


def dispatcher(routes: Routes, patterns: dict[tuple[str, str], dict[str, Handler]]) -> Handler:
    """Exact paths from ``routes``; a path ``prefix<one segment>suffix`` from ``patterns`` (keyed
    by (prefix, suffix)), its segment in ``request.match_info``-like ``request["segment"]``."""

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        path = request.rel_url.path_safe
        methods = routes.get(path)
        if methods is None:
            for (prefix, suffix), candidate in patterns.items():
                if (
                    path.startswith(prefix)
                    and path.endswith(suffix)
                    and len(path) > len(prefix) + len(suffix)
                ):
                    segment = path[len(prefix) : len(path) - len(suffix)]
                    if "/" not in segment:
                        request["segment"] = segment
                        methods = candidate
                        break
        handler = methods.get(request.method) if methods is not None else None
        return await (handler or not_found)(request)

    return dispatch


async def open_pools(dsn: str, pg_size: int, redis_url: str | None, redis_size: int) -> tuple[Any, Any]:
    async def pg_connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn)

    async def redis_connect() -> RedisConnection:
        options = {"host": "127.0.0.1", "port": 6379, "db": 0}
        if redis_url:
            from redis.asyncio.connection import parse_url

            options.update(parse_url(redis_url))
        connection = RedisConnection(**options, socket_timeout=None)
        await connection.connect()
        return connection

    pg = await FairPool(pg_connect, pg_size, lambda c: c.is_closed()).open()
    redis = await FairPool(redis_connect, redis_size, lambda c: not c.is_connected).open()
    return pg, redis
