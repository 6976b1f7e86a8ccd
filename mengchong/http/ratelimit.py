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
and counted by one Lua script (:data:`mengchong.http.admission.ADMIT_LUA`), and an authenticated
request makes one round trip for all of it: :meth:`Limiter.admit` tests the client IP's windows,
reads the user's cached auth state and, when that state accepts the token, tests the user's
windows, then counts them all. The script keeps the windows exactly as ``limits`` does (same
keys, same arithmetic), so ``limits`` still answers the Retry-After of a refusal. On an
auth-state miss the guard reads the state from the database and :meth:`Limiter.check_user`
counts the user's (and the pending IP's) windows with the same script, in one more round trip.
Other strategies and the in-process storage go through ``limits``: every window tested, then
every window hit.
"""

from __future__ import annotations

import logging
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
from prometheus_client import Counter

from mengchong.config import RateLimitSettings
from mengchong.http.admission import ADMIT_LUA, COUNTED, REFUSED, STATE_MISSING, Admission
from mengchong.http.client_ip import client_ip
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.routing import route_key
from mengchong.keys import IP_PENDING
from mengchong.storage.cache import Cache
from mengchong.storage.outage import find_outage
from mengchong.storage.row_versions import new_version

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
