"""The cache port: Redis through redis-py's asyncio client, or an in-process Redis (fakeredis).

Both adapters are the same object, :class:`Cache`, around a client with the redis-py API, so
rate limiting, leaderboards and locks use ``cache.client`` directly (sorted sets, Lua scripts,
``INCR``) and behave alike on both. Redis is a cache, never the truth: what is kept here can be
rebuilt from the databases. Every key starts with the configured prefix; build keys with
:meth:`Cache.key`.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis._defaults import get_default_socket_keepalive_options
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig

from mengchong.config import CacheSettings
from mengchong.storage.cache_lane import CommandLane, HotScript

# Client options, chosen after reading redis/asyncio/connection.py (redis-py 8.1):
#
# socket_timeout=None (``cache.command_timeout_seconds = 0``): redis-py defaults to 5 s, and then
#   wraps every command's write in asyncio.wait_for (a new Task per command) and every read in
#   asyncio.timeout. Measured here (32 concurrent GETs of 2 KB against local Redis): 32.5k/s
#   without, 23.5k/s with the default; measured again as this process's CPU per GET on a busy
#   machine (median of 7): 76 µs without, 101 µs with socket_timeout=5, 96 µs with an
#   asyncio.timeout around each call. So no per-command timer. What bounds a command instead:
#   - a frozen Redis (SIGSTOP, a stalled VM): its kernel still ACKs, so only an application timer
#     sees it. That is the request deadline (``server.request_timeout_seconds``), one shared timer
#     for every request (mengchong/http/deadline.py): a command it cancels disconnects its
#     connection (read_response's BaseException branch), so no late reply is misread, and the
#     request answers 503. Background code that needs a bound wraps its call in asyncio.timeout.
#   - a host or network gone: TCP_USER_TIMEOUT (``cache.tcp_user_timeout_seconds``) drops a
#     connection whose sent data stays unacknowledged, beside redis-py's keepalive (idle 30 s,
#     5 s × 3 probes) for idle ones. A socket option: no cost per command (78.7 µs vs 76.2 µs above,
#     within noise).
#   - a killed Redis: the connection is refused or reset at once (ConnectionError, answered 503).
#   An operator who wants a per-command bound anyway sets ``cache.command_timeout_seconds`` (or
#   ``?socket_timeout=2`` in the URL: the query string wins).
# socket_connect_timeout (``cache.connect_timeout_seconds``, 2 s): connecting is where an
#   unreachable host shows; fail fast there.
# max_connections=512: the pool does not wait for a free connection, it raises
#   MaxConnectionsError once ``max_connections`` commands are in flight at once, and its default is
#   100 (fakeredis uses the same pool). 512 leaves room for request bursts on one process and stays
#   far below Redis' maxclients (10000) and the usual file-descriptor limits. BlockingConnectionPool
#   would wait instead, but costs ~30 % throughput (a Condition and a timer per checkout).
# retry: none. A retried INCR / ZINCRBY whose reply was lost would apply twice; a pooled
#   connection the server closed (restart, idle timeout, CLIENT KILL) is replaced when checked out
#   (ConnectionPool.ensure_connection) ...
# maint_notifications_config disabled: ... but redis-py 8.1 skips that check when maintenance
#   notifications are on, and with RESP3 (its default) they are on ("auto"), so the next command on
#   such a connection fails with "Connection closed by server" (redis-py issue #4252, fixed after
#   8.1.0 by PR #4260). They serve Redis Enterprise / Cloud planned failovers, not a single server.
#   tests/storage/test_cache_contract.py kills a connection to keep this true.
SOCKET_TIMEOUT: float | None = None
MAX_CONNECTIONS = 512

# The in-process server speaks Redis 7.0 (the version on the development and CI machines), so a
# command newer than what production is likely to run fails here first.
FAKE_REDIS_VERSION = (7, 0)


class Cache:
    """One object for both adapters: redis-py's asyncio client (real Redis) or fakeredis's
    FakeAsyncRedis (in-process), same API. Values are bytes (``decode_responses=False``)."""

    def __init__(self, client: aioredis.Redis, *, name: str, prefix: str) -> None:
        self.client = client
        self.name = name  # "redis" or "memory", shown by /readyz
        self.prefix = prefix
        self._lane = CommandLane(client) if name == "redis" else None
        self._hot_scripts: dict[str, Callable[..., Awaitable[Any]]] = {}

    def __repr__(self) -> str:
        return f"Cache(name={self.name!r}, prefix={self.prefix!r})"

    def key(self, *parts: str) -> str:
        """The full key for ``parts``: ``key("pets", "42")`` -> ``"mengchong:pets:42"``."""
        return self.prefix + ":".join(parts)

    async def open(self) -> None:
        """Nothing to do: connections open on first use, so the server starts while Redis is
        down and /readyz says so."""

    async def get_json(self, key: str) -> Any | None:
        """The decoded value at a full key (from :meth:`key`), or None when there is none.

        A stored JSON ``null`` also reads as None.
        """
        raw = await self.client.get(key)
        return None if raw is None else orjson.loads(raw)

    async def set_json(self, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        """Store ``value`` as JSON at a full key, expiring after ``ttl_seconds`` (ms precision)."""
        data = orjson.dumps(value)
        if ttl_seconds is None:
            await self.client.set(key, data)
            return
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        await self.client.set(key, data, px=max(1, math.ceil(ttl_seconds * 1000)))

    async def delete(self, *keys: str) -> int:
        """Delete full keys; returns how many existed."""
        if not keys:
            return 0
        return int(await self.client.delete(*keys))

    async def ping(self) -> None:
        """Raise unless the server answers."""
        await self.client.ping()

    async def close(self) -> None:
        if self._lane is not None:
            await self._lane.close()
        await self.client.aclose()

    def hot_script(self, source: str) -> Callable[..., Awaitable[Any]]:
        """``await script(keys=[...], args=[...])`` for a Lua script called on every request:
        on Redis a :class:`~mengchong.storage.cache_lane.HotScript` on the cache's command lane
        (connections of its own, closed with the cache), in-process ``register_script``. Made
        once per source: call it where the script is used."""
        script = self._hot_scripts.get(source)
        if script is None:
            script = (
                self.client.register_script(source) if self._lane is None else HotScript(self._lane, source)
            )
            self._hot_scripts[source] = script
        return script

    async def fast(self, *command: str | bytes | int | float) -> Any:
        """One command of a request's hot path (``await cache.fast("HGET", key, field)``), on the
        command lane on Redis; its reply as parsed, without redis-py's reply callbacks."""
        if self._lane is None:
            return await self.client.execute_command(*command)
        return await self._lane.execute(*command)

    def lock(
        self, name: str, timeout: float, blocking_timeout: float | None = None, *, sleep: float = 0.05
    ) -> Lock:
        """redis-py's Lock on ``key("lock", name)``; use ``async with cache.lock(...)``.

        ``timeout`` (seconds) bounds how long the lock is held if its holder dies, so it is
        required. Acquiring waits up to ``blocking_timeout`` seconds (None: for ever), polling
        every ``sleep`` seconds, and raises ``redis.exceptions.LockError`` when it gives up.
        Take a new Lock object per critical section: its token is per object.
        """
        return self.client.lock(
            self.key("lock", name), timeout=timeout, sleep=sleep, blocking_timeout=blocking_timeout
        )


def keepalive_options(tcp_user_timeout: float) -> dict[int, int]:
    """redis-py's keepalive options, plus TCP_USER_TIMEOUT (ms) where the OS has it."""
    options = get_default_socket_keepalive_options()
    if tcp_user_timeout > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):
        options[socket.TCP_USER_TIMEOUT] = round(tcp_user_timeout * 1000)
    return options


def redis_client(settings: CacheSettings) -> aioredis.Redis:
    """redis-py's asyncio client for ``settings.url``, configured as explained at the top of this
    module."""
    tcp: dict[str, Any] = {}
    if not settings.url.startswith("unix://"):  # a Unix socket connection takes no TCP options
        tcp = {
            "socket_keepalive": True,
            "socket_keepalive_options": keepalive_options(settings.tcp_user_timeout_seconds),
        }
    return aioredis.Redis.from_url(
        settings.url,
        decode_responses=False,
        socket_timeout=settings.command_timeout_seconds or SOCKET_TIMEOUT,
        socket_connect_timeout=settings.connect_timeout_seconds,
        max_connections=MAX_CONNECTIONS,
        **tcp,
        retry=Retry(NoBackoff(), 0),
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )


def memory_client() -> aioredis.Redis:
    """An in-process Redis with a server of its own: two caches never share data."""
    import fakeredis  # here: about 20 MB and 0.1 s that a server on Redis does not need

    server = fakeredis.FakeServer(version=FAKE_REDIS_VERSION)
    # Lua (EVAL, register_script, Lock) runs in lupa, installed by fakeredis[lua].
    return fakeredis.FakeAsyncRedis(
        server=server, decode_responses=False, socket_timeout=SOCKET_TIMEOUT, max_connections=MAX_CONNECTIONS
    )


def open_cache(settings: CacheSettings) -> Cache:
    """The cache for ``settings``: Redis when ``url`` is set, else in-process."""
    if settings.url:
        return Cache(redis_client(settings), name="redis", prefix=settings.prefix)
    return Cache(memory_client(), name="memory", prefix=settings.prefix)
