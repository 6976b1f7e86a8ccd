"""Rate limiting with the ``limits`` library: per client IP in the request pipeline, per user where the
auth guard has established who the user is. Limits come from ``[ratelimit]`` with per-route
overrides keyed by ``"METHOD /route/{template}"``. With Redis configured the counters live in
Redis (through the cache port's connection pool), so every process shares them; otherwise in
this process. A refused request is 429/42901 with ``Retry-After``.

On Redis with the default strategy (sliding-window-counter) every limit is counted by one Lua
script (:data:`ADMIT_LUA`), and an authenticated request makes one round trip for all of it:
:meth:`Limiter.admit` counts the client IP, reads the user's cached auth state and counts the
user when that state still accepts the token. The script keeps the windows exactly as
``limits`` does (same keys, same arithmetic), so ``limits`` still answers the Retry-After of a
refusal. Other strategies and the in-process storage go through ``limits``, one call a step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

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
from mengchong.keys import IP_PENDING
from mengchong.storage.cache import Cache

STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}

# KEYS: the IP's previous and current window, the auth state ("": the IP alone), the user's
# previous and current window (a pair not counted is named but never touched). ARGV: IP limit
# and window seconds (limit -1: not counted), user limit and window seconds, the token's
# version. Returns {ip admitted 1/0, the state or "", user: 1 admitted or no limit, 0 refused,
# -1 not evaluated because the state is missing or refuses the token}.
ADMIT_LUA = """
local function acquire(previous, current, limit, expiry)
    -- limits' acquire_sliding_window.lua for one hit; times in milliseconds
    expiry = expiry * 1000
    if limit < 1 then
        return false
    end
    local current_ttl = tonumber(redis.call('pttl', current))
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current, previous)
        redis.call('set', current, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous)) or 0
    local previous_ttl = math.max(tonumber(redis.call('pttl', previous)) or 0, 0)
    local current_count = tonumber(redis.call('get', current)) or 0
    if math.floor(previous_count * previous_ttl / expiry) + current_count + 1 > limit then
        return false
    end
    if redis.call('exists', current) == 1 then
        redis.call('incrby', current, 1)
    else
        redis.call('set', current, 1, 'PX', expiry * 2)
    end
    return true
end

local ip_limit = tonumber(ARGV[1])
if ip_limit >= 0 and not acquire(KEYS[1], KEYS[2], ip_limit, tonumber(ARGV[2])) then
    return {0, '', -1}
end
if KEYS[3] == '' then
    return {1, '', 1}
end
local state = redis.call('get', KEYS[3])
if not state then
    return {1, '', -1}
end
local user_limit = tonumber(ARGV[3])
if user_limit < 0 then
    return {1, state, 1}
end
local ok, decoded = pcall(cjson.decode, state)
if not ok or decoded[1] ~= tonumber(ARGV[5]) or decoded[4] ~= false then
    return {1, state, -1}
end
if acquire(KEYS[4], KEYS[5], user_limit, tonumber(ARGV[4])) then
    return {1, state, 1}
end
return {1, state, 0}
"""


@dataclass(frozen=True)
class Admission:
    """What :meth:`Limiter.admit` found: the cached auth state (None on a miss) and whether
    the per-user limit is settled (counted, or none applies)."""

    state: bytes | None
    user_checked: bool


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
        self._cache = cache
        self._storage = self._storage_for(cache)
        self._limiter = STRATEGIES[settings.strategy](self._storage)
        self._prefix = cache.key("ratelimit")
        fused = isinstance(self._storage, RedisStorage) and settings.strategy == "sliding-window-counter"
        self._admit = cache.client.register_script(ADMIT_LUA) if fused else None
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
        if not await self._limiter.hit(item, scope, identity, route):
            raise await self._refusal(item, scope, identity, route)

    async def _refusal(self, item: RateLimitItem, scope: str, identity: str, route: str) -> ApiError:
        stats = await self._limiter.get_window_stats(item, scope, identity, route)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        return ApiError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def _window_keys(self, item: RateLimitItem, scope: str, identity: str, route: str) -> tuple[str, str]:
        """The previous and current window keys, named as limits' RedisStorage names them."""
        current = f"{self._prefix}:{{{item.key_for(scope, identity, route)}}}"
        return f"{current}/-1", current

    async def check_ip(self, request: web.Request) -> None:
        """Count the request against its client IP's limit (the request pipeline calls this
        only when limits are enabled and the path is not exempt)."""
        route = route_key(request)
        item = self._ip.get(route, self._default_ip)
        if item is None:
            return
        ip = client_ip(request, self.settings.trust_forwarded_for)
        if self._admit is None:
            await self._hit(item, "ip", ip, route)
            return
        previous, current = self._window_keys(item, "ip", ip, route)
        admitted, _, _ = await self._admit(
            keys=[previous, current, "", "", ""], args=[item.amount, item.get_expiry(), -1, 0, 0]
        )
        if not admitted:
            raise await self._refusal(item, "ip", ip, route)

    async def check_pending_ip(self, request: web.Request) -> None:
        """Count the client IP if the pipeline left it to the auth guard (:data:`IP_PENDING`)."""
        if request.pop(IP_PENDING, False):
            await self.check_ip(request)

    async def check_user(self, request: web.Request, user_id: int) -> None:
        if not self.settings.enabled:
            return
        route = route_key(request)
        await self._hit(self._user.get(route, self._default_user), "user", str(user_id), route)

    async def admit(self, request: web.Request, user_id: int, version: int, state_key: str) -> Admission:
        """For the auth guard, once the token's signature holds: count the client IP if it is
        pending, read the user's cached auth state at ``state_key``, and count the user when
        that state accepts a token of ``version``. 429 when a limit refuses."""
        if self._admit is None:
            await self.check_pending_ip(request)
            return Admission(await self._cache.client.get(state_key), user_checked=False)
        route = route_key(request)
        keys = [state_key] * 5
        args: list[int] = [-1, 0, -1, 0, version]
        ip_item = self._ip.get(route, self._default_ip) if request.pop(IP_PENDING, False) else None
        ip = ""
        if ip_item is not None:
            ip = client_ip(request, self.settings.trust_forwarded_for)
            keys[0], keys[1] = self._window_keys(ip_item, "ip", ip, route)
            args[0], args[1] = ip_item.amount, ip_item.get_expiry()
        user_item = self._user.get(route, self._default_user) if self.settings.enabled else None
        if user_item is not None:
            keys[3], keys[4] = self._window_keys(user_item, "user", str(user_id), route)
            args[2], args[3] = user_item.amount, user_item.get_expiry()
        ip_admitted, state, user = await self._admit(keys=keys, args=args)
        if ip_item is not None and not ip_admitted:
            raise await self._refusal(ip_item, "ip", ip, route)
        if user_item is not None and user == 0:
            raise await self._refusal(user_item, "user", str(user_id), route)
        return Admission(state or None, user_checked=user == 1)
