"""Rate limiting with the ``limits`` library: per client IP in a middleware, per user where the
auth guard has established who the user is. Limits come from ``[ratelimit]`` with per-route
overrides keyed by ``"METHOD /route/{template}"``. With Redis configured the counters live in
Redis (through the cache port's connection pool), so every process shares them; otherwise in
this process. A refused request is 429/42901 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from mengchong.config import RateLimitSettings
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.routing import route_key
from mengchong.storage.cache import Cache

STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}


def client_ip(request: web.Request, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for and (forwarded := request.headers.get("X-Forwarded-For")):
        return forwarded.split(",", 1)[0].strip()
    return request.remote or "unknown"


def rate(value: str) -> RateLimitItem | None:
    """A parsed rate, or None for ``"none"`` (no limit)."""
    return None if value == "none" else parse(value)


class Limiter:
    def __init__(self, settings: RateLimitSettings, cache: Cache) -> None:
        self.settings = settings
        self._storage = self._storage_for(cache)
        self._limiter = STRATEGIES[settings.strategy](self._storage)
        self._default_ip = rate(settings.per_ip)
        self._default_user = rate(settings.per_user)
        self._ip: dict[str, RateLimitItem | None] = {}
        self._user: dict[str, RateLimitItem | None] = {}
        for route, override in settings.routes.items():
            self._ip[route] = self._item(override.per_ip, self._default_ip)
            self._user[route] = self._item(override.per_user, self._default_user)

    @staticmethod
    def _item(value: str | None, default: RateLimitItem | None) -> RateLimitItem | None:
        return default if value is None else rate(value)

    @staticmethod
    def _storage_for(cache: Cache) -> Storage:
        if cache.name == "memory":
            return MemoryStorage()
        return RedisStorage(
            "async+redis://cache-port:6379",  # not dialled: the connection pool below is used
            implementation="redispy",
            key_prefix=cache.key("ratelimit"),
            connection_pool=cache.client.connection_pool,
        )

    async def _hit(self, item: RateLimitItem | None, scope: str, identity: str, route: str) -> None:
        if item is None:
            return
        if await self._limiter.hit(item, scope, identity, route):
            return
        stats = await self._limiter.get_window_stats(item, scope, identity, route)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    async def check_ip(self, request: web.Request) -> None:
        """Count the request against its client IP's limit (the request middleware calls this
        only when limits are enabled and the path is not exempt)."""
        route = route_key(request)
        ip = client_ip(request, self.settings.trust_forwarded_for)
        await self._hit(self._ip.get(route, self._default_ip), "ip", ip, route)

    async def check_user(self, request: web.Request, user_id: int) -> None:
        if not self.settings.enabled:
            return
        route = route_key(request)
        await self._hit(self._user.get(route, self._default_user), "user", str(user_id), route)
