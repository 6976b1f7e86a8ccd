"""Rate limiting with the ``limits`` library: per client IP in the request pipeline, per user where the
auth guard has established who the user is. With Redis configured the counters live in Redis
(through the cache port's connection pool), so every process shares them; otherwise in this
process. A refused request is 429/42901 with ``Retry-After``.

Which windows a request is counted in: ``per_ip`` and ``per_user`` are totals, one window per
client IP and one per user across every route. A route listed in ``[ratelimit.routes]`` with a
rate also has a window of its own beside the total (login's 30/minute per IP); ``"none"`` there
takes the route out of that side's limits altogether (neither its own window nor the total).
A request is counted only when every window that applies admits it, in all of them at once, so
a request refused by one limit spends nothing of another: one user flooding from behind a NAT
is refused by the user's limit without using up the IP budget of the others behind it.

On Redis with the default strategy (sliding-window-counter) every window of a request is tested
and counted by one Lua script (:data:`ADMIT_LUA`), and an authenticated request makes one round
trip for all of it: :meth:`Limiter.admit` tests the client IP's windows, reads the user's cached
auth state and, when that state accepts the token, tests the user's windows, then counts them
all. The script keeps the windows exactly as ``limits`` does (same keys, same arithmetic), so
``limits`` still answers the Retry-After of a refusal. On an auth-state miss the guard reads the
state from the database and :meth:`Limiter.check_user` counts the user's (and the pending IP's)
windows with the same script, in one more round trip. Other strategies and the in-process
storage go through ``limits``: every window tested, then every window hit.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from ipaddress import ip_address

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from prometheus_client import Counter

from mengchong.config import RateLimitSettings
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.routing import route_key
from mengchong.keys import FORWARDED_CLIENT_IP, IP_PENDING
from mengchong.storage.cache import Cache
from mengchong.storage.outage import find_outage
from mengchong.storage.row_versions import ROW_VERSION_LUA, new_version

log = logging.getLogger("mengchong.ratelimit")
UNLIMITED_LOG_SECONDS = 10.0  # one WARNING per this long while the cache stays unreachable
# Served unlimited while the cache is down (ratelimit.fail_open). Not a write, not even a login:
# its commit tells the cache of the user's new state, which could not be told.
READS = frozenset({"GET", "HEAD"})

STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
LONGEST_HOP = 64  # an IPv6 address with a zone fits; anything longer is not an address

# KEYS: the user's auth state ("": none to read), the user's row version ("": none), a
# document's stored version ("": none; mengchong.storage.kept_documents), then each window's
# previous and current key, the IP's windows first. ARGV: the token's version, how many windows
# are the IP's, a fresh row version to set if the row has none, then each window's limit and
# seconds. Returns {status, the state or "", refused, the row version or "", the document's
# version or ""}: status 0 refused (nothing counted; refused is a bit mask of the windows that
# refused, 1 for the first), 1 every window counted (and the versions read), 2 the state is
# missing (nothing counted: the caller decides and counts), 3 the state refuses the token (only
# the IP's windows counted).
ADMIT_LUA = (
    ROW_VERSION_LUA
    + """
local function weighted(previous, current, expiry)
    -- limits' sliding_window.lua: roll an expired current window over, then weigh; in ms
    local current_ttl = tonumber(redis.call('pttl', current))
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current, previous)
        redis.call('set', current, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous)) or 0
    local previous_ttl = math.max(tonumber(redis.call('pttl', previous)) or 0, 0)
    local current_count = tonumber(redis.call('get', current)) or 0
    return math.floor(previous_count * previous_ttl / expiry) + current_count
end

local function refused(first, last)
    local mask = 0
    for i = first, last do
        local limit = tonumber(ARGV[2 * i + 2])
        local expiry = tonumber(ARGV[2 * i + 3]) * 1000
        if limit < 1 or weighted(KEYS[2 * i + 2], KEYS[2 * i + 3], expiry) + 1 > limit then
            mask = mask + 2 ^ (i - 1)
        end
    end
    return mask
end

local function count(first, last)
    -- limits' acquire_sliding_window.lua once the window admits the hit
    for i = first, last do
        local current = KEYS[2 * i + 3]
        if redis.call('exists', current) == 1 then
            redis.call('incrby', current, 1)
        else
            redis.call('set', current, 1, 'PX', tonumber(ARGV[2 * i + 3]) * 2000)
        end
    end
end

local windows = (#KEYS - 3) / 2
local ip_windows = tonumber(ARGV[2])
local mask = refused(1, ip_windows)
if mask > 0 then
    return {0, '', mask, '', ''}
end
if KEYS[1] == '' then
    count(1, ip_windows)
    return {1, '', 0, '', ''}
end
local state = redis.call('get', KEYS[1])
if not state then
    return {2, '', 0, '', ''}
end
local ok, decoded = pcall(cjson.decode, state)
if not ok or decoded[1] ~= tonumber(ARGV[1]) or decoded[4] ~= false then
    count(1, ip_windows)
    return {3, state, 0, '', ''}
end
mask = refused(ip_windows + 1, windows)
if mask > 0 then
    return {0, state, mask, '', ''}
end
count(1, windows)
local row = ''
if KEYS[2] ~= '' then
    row = row_version(KEYS[2], ARGV[3])
end
local document = ''
if KEYS[3] ~= '' then
    document = redis.call('get', KEYS[3]) or ''
end
return {1, state, 0, row, document}
"""
)
REFUSED, COUNTED, STATE_MISSING, TOKEN_REFUSED = 0, 1, 2, 3


@dataclass(frozen=True)
class Admission:
    """What :meth:`Limiter.admit` found: the cached auth state (None on a miss) and whether
    the per-user limit is settled (counted, or none applies)."""

    state: bytes | None
    user_checked: bool
    row_version: str | None = None
    """The version of the user's row (:mod:`mengchong.storage.row_versions`) when it was asked
    for and the state was read in the same round trip."""
    doc_version: str | None = None
    """The stored version of the document asked for (:mod:`mengchong.storage.kept_documents`;
    ``""`` when none is stored) when it was read in the same round trip."""


@dataclass(frozen=True)
class Window:
    """A limit a request is counted in: the identity's total, or one route's own window."""

    item: RateLimitItem
    per_route: bool


@dataclass(frozen=True)
class RouteWindows:
    """The windows a route's requests are counted in, per client IP and per user."""

    ip: tuple[Window, ...]
    user: tuple[Window, ...]


Count = tuple[RateLimitItem, tuple[str, ...]]
"""One window of one request: its rate and ``limits``' identifiers for it."""


def client_ip(request: web.Request, settings: RateLimitSettings) -> str:
    """The client's IP address, for rate limits, logs and records alike. The socket peer; with
    ``trust_forwarded_for``, the X-Forwarded-For hop written by the outermost of the
    ``trusted_proxy_hops`` proxies that append to it, counted from the right: hops further left
    were written by the client. Fewer hops than that, or a hop that is no IP address, leaves the
    socket peer, so a client can never choose its address."""
    peer = request.remote or "unknown"
    if not settings.trust_forwarded_for:
        return peer
    # Asked by the limits, the access log and the login record: parse the header once a request.
    if (known := request.get(FORWARDED_CLIENT_IP)) is None:
        known = request[FORWARDED_CLIENT_IP] = forwarded_ip(request, settings.trusted_proxy_hops) or peer
    return known


def forwarded_ip(request: web.Request, hops: int) -> str | None:
    """The X-Forwarded-For hop ``hops`` places from the right, normalised; None when there is no
    such hop or it is no IP address."""
    values = request.headers.getall("X-Forwarded-For", ())
    # Several header lines are one list in order (RFC 9110 5.3): a proxy may add its own line.
    parts = ",".join(values).rsplit(",", hops)
    if len(parts) < hops:
        return None
    hop = parts[-hops].strip()
    if not hop or len(hop) > LONGEST_HOP:
        return None
    try:
        return str(ip_address(hop))
    except ValueError:
        return None


def rate(value: str) -> RateLimitItem | None:
    """A parsed rate, or None for ``"none"`` (no limit)."""
    return None if value == "none" else parse(value)


def route_windows(total: RateLimitItem | None, override: str | None) -> tuple[Window, ...]:
    """One side's windows for a route: the total unless the override is ``"none"``, and the
    override's own window when it names a rate."""
    if override == "none":
        return ()
    own = () if override is None else (Window(parse(override), per_route=True),)
    return ((Window(total, per_route=False),) if total is not None else ()) + own


def redis_key_parts(prefix: str, item: RateLimitItem) -> tuple[str, str]:
    """How limits' RedisStorage names ``item``'s current window for some identifiers:
    ``head + "/".join(identifiers) + tail`` (the previous window adds ``/-1``). Split once from
    ``key_for``, so the hot path joins strings instead of calling it."""
    rate_part = item.key_for()[len(item.namespace) :]  # "/300/1/minute"
    return f"{prefix}:{{{item.namespace}/", f"{rate_part}}}"


def counts(windows: tuple[Window, ...], scope: str, identity: str, route: str) -> list[Count]:
    return [(w.item, (scope, identity, route) if w.per_route else (scope, identity)) for w in windows]


class Limiter:
    def __init__(
        self, settings: RateLimitSettings, cache: Cache, refusals: Counter, unlimited: Counter
    ) -> None:
        self.settings = settings
        self._refusals = refusals  # by scope: ip, user
        self._unlimited = unlimited
        self._unlimited_logged_at = -UNLIMITED_LOG_SECONDS
        self._cache = cache
        self._storage = self._storage_for(cache)
        self._limiter = STRATEGIES[settings.strategy](self._storage)
        self._prefix = cache.key("ratelimit")
        fused = isinstance(self._storage, RedisStorage) and settings.strategy == "sliding-window-counter"
        self._admit = cache.hot_script(ADMIT_LUA) if fused else None
        total_ip, total_user = rate(settings.per_ip), rate(settings.per_user)
        self._default = RouteWindows(route_windows(total_ip, None), route_windows(total_user, None))
        self._routes = {
            route: RouteWindows(
                route_windows(total_ip, override.per_ip), route_windows(total_user, override.per_user)
            )
            for route, override in settings.routes.items()
        }
        self._key_parts = {
            window.item: redis_key_parts(self._prefix, window.item)
            for limits in (self._default, *self._routes.values())
            for window in (*limits.ip, *limits.user)
        }

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

    def _ip_counts(self, request: web.Request, route: str, windows: RouteWindows) -> list[Count]:
        if not windows.ip:
            return []
        return counts(windows.ip, "ip", client_ip(request, self.settings), route)

    async def _count(self, windows: list[Count]) -> None:
        """Count one request in every window through ``limits``, or in none when one refuses."""
        if len(windows) == 1:  # one hit tests and counts at once
            item, identifiers = windows[0]
            if not await self._limiter.hit(item, *identifiers):
                raise await self._refusal(windows)
            return
        refused = [w for w in windows if not await self._limiter.test(w[0], *w[1])]
        if refused:
            raise await self._refusal(refused)
        for item, identifiers in windows:
            # A concurrent request may take the last place between the test and the hit.
            if not await self._limiter.hit(item, *identifiers):
                raise await self._refusal([(item, identifiers)])

    async def _refusal(self, refused: list[Count]) -> ApiError:
        """429 with the wait until every refusing window admits again."""
        for scope in {identifiers[0] for _item, identifiers in refused}:
            self._refusals.labels(scope).inc()
        reset = 0.0
        for item, identifiers in refused:
            reset = max(reset, (await self._limiter.get_window_stats(item, *identifiers)).reset_time)
        retry_after = max(1, math.ceil(reset - time.time()))
        return ApiError(
            ErrorCode.RATE_LIMITED,
            f"Too many requests; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    async def _run_script(
        self,
        state_key: str,
        version: int,
        ip: int,
        windows: list[Count],
        row_key: str = "",
        doc_key: str = "",
    ) -> tuple[int, bytes, bytes, bytes]:
        """:data:`ADMIT_LUA` over ``windows``, the first ``ip`` of them the IP's; raises the 429
        when a window refuses."""
        keys, args = [state_key, row_key, doc_key], [version, ip, new_version() if row_key else ""]
        key_parts = self._key_parts
        for item, identifiers in windows:
            head, tail = key_parts[item]
            current = head + "/".join(identifiers) + tail
            keys += (f"{current}/-1", current)
            args += (item.amount, item.get_expiry())
        status, state, mask, row_version, doc_version = await self._admit(keys=keys, args=args)
        if status == REFUSED:
            raise await self._refusal([windows[i] for i in range(len(windows)) if mask >> i & 1])
        return status, state, row_version, doc_version

    async def check_ip(self, request: web.Request) -> None:
        """Count the request against its client IP's limits (the request pipeline calls this
        only when limits are enabled and the path is not exempt)."""
        route = route_key(request)
        ip = self._ip_counts(request, route, self._routes.get(route, self._default))
        if not ip:
            return
        try:
            if self._admit is None:
                await self._count(ip)
            else:
                await self._run_script("", 0, len(ip), ip)
        except ApiError:
            raise
        except Exception as exc:
            if not (self.settings.fail_open and request.method in READS) or find_outage(exc) is None:
                raise
            self._admit_unlimited(exc)

    def _admit_unlimited(self, exc: Exception) -> None:
        """A public read let through uncounted: its limits live in the cache, which is down."""
        self._unlimited.inc()
        now = time.monotonic()
        if now - self._unlimited_logged_at >= UNLIMITED_LOG_SECONDS:
            self._unlimited_logged_at = now
            log.warning(
                "rate limits unavailable (cache: %s): public reads are served without them",
                type(exc).__name__,
                extra={"backend": "cache", "error": type(exc).__name__},
            )

    async def check_pending_ip(self, request: web.Request) -> None:
        """Count the client IP if the pipeline left it to the auth guard (:data:`IP_PENDING`)."""
        if request.pop(IP_PENDING, False):
            await self.check_ip(request)

    async def check_user(self, request: web.Request, user_id: int) -> None:
        """Count the user, together with the client IP if it is still pending: both or neither."""
        if not self.settings.enabled:
            return
        route = route_key(request)
        windows = self._routes.get(route, self._default)
        ip = self._ip_counts(request, route, windows) if request.pop(IP_PENDING, False) else []
        if not (both := ip + counts(windows.user, "user", str(user_id), route)):
            return
        if self._admit is None:
            await self._count(both)
        else:  # every window tested and counted by the script, in one round trip
            await self._run_script("", 0, len(both), both)

    async def admit(
        self,
        request: web.Request,
        user_id: int,
        version: int,
        state_key: str,
        row_key: str = "",
        doc_key: str = "",
    ) -> Admission:
        """For the auth guard, once the token's signature holds: read the user's cached auth
        state at ``state_key`` and, on Redis, test the pending client IP's and (when that state
        accepts a token of ``version``) the user's windows, and count them when all admit, and
        read the user's row version at ``row_key`` and a document's stored version at ``doc_key``
        if given. 429 when one refuses. Whatever is
        not settled here is left to :meth:`check_user` (or to :meth:`check_pending_ip` when the
        token is refused)."""
        if self._admit is None:
            return Admission(await self._cache.client.get(state_key), user_checked=False)
        route = route_key(request)
        windows = self._routes.get(route, self._default)
        pending = request.pop(IP_PENDING, False)
        both = self._ip_counts(request, route, windows) if pending else []
        ip = len(both)
        if self.settings.enabled:
            both += counts(windows.user, "user", str(user_id), route)
        status, state, row_version, doc_version = await self._run_script(
            state_key, version, ip, both, row_key, doc_key
        )
        if status == STATE_MISSING and pending:
            request[IP_PENDING] = True  # counted with the user once the state is known
        return Admission(
            state or None,
            user_checked=status == COUNTED,
            row_version=row_version.decode() if row_version else None,
            doc_version=doc_version.decode() if status == COUNTED and doc_key else None,
        )
