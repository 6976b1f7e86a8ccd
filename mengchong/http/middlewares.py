"""The kernel's request middleware: request id, database context, the per-IP rate limit, every
error turned into the envelope, latency metrics and the access log.

One middleware rather than six: each aiohttp middleware is another coroutine frame on every
request, health checks included. Being the only one, it logs and measures the status the
client really gets. What a particular route needs (its guard, its JSON body, its schemas) is
read once per route into a :class:`~mengchong.http.validation.RouteNeeds`; a route that
needs nothing, like the health check, pays one dictionary lookup for it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from random import getrandbits

from aiohttp import web
from aiohttp.typedefs import Handler

from mengchong.http.access_log import AccessLog
from mengchong.http.envelope import error_response, from_http_exception
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.metrics import Metrics
from mengchong.http.ratelimit import Limiter
from mengchong.http.routing import route_label
from mengchong.http.validation import RouteNeeds
from mengchong.keys import IP_PENDING
from mengchong.logs import request_id_var
from mengchong.storage.database import Database

Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

log = logging.getLogger("mengchong.http")
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id(incoming: str) -> str:
    """The client's X-Request-ID when it is sane, else 32 random hex digits. An id names a
    request in logs and is no secret, so the ``random`` module's generator serves (a third of
    the cost of ``os.urandom``, a system call)."""
    return incoming if incoming and _CLIENT_REQUEST_ID.fullmatch(incoming) else f"{getrandbits(128):032x}"


def error_to_response(request: web.Request, exc: Exception) -> web.Response:
    """Our errors in the envelope; anything unexpected is logged and answered 50001, no trace.
    (aiohttp's own HTTP errors are mapped where they are caught.)"""
    if isinstance(exc, ApiError):
        return error_response(exc)
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(ApiError(ErrorCode.INTERNAL, "Internal server error"))


def build_request_middleware(
    database: Database, metrics: Metrics, limiter: Limiter, access_log: AccessLog | None
) -> Middleware:
    """The one middleware. In order: request id, database context, the client IP's limit, what
    the route asks for (:class:`RouteNeeds`: its guard, JSON body, schemas), the handler; any
    failure becomes the envelope; then the X-Request-ID header, metrics and the access line."""
    observe = metrics.observe_request
    check_ip = limiter.check_ip if limiter.settings.enabled else None
    exempt = frozenset(limiter.settings.exempt)
    # Per route: what it needs and its metrics label, read once. aiohttp makes a new route
    # object for every 404/405, so those (no resource) are not kept.
    known_routes: dict[object, tuple[RouteNeeds | None, str]] = {}

    @web.middleware
    async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = new_request_id(request.headers.get("X-Request-ID", ""))
        id_token = request_id_var.set(request_id)
        database_token = database.enter()
        status = 500  # what the client sees if the connection dies mid-handler
        label = "unmatched"
        try:
            try:
                route = request.match_info.route
                try:
                    needs, label = known_routes[route]
                except KeyError:
                    needs, label = RouteNeeds.of(route.handler), route_label(request)
                    if route.resource is not None:
                        known_routes[route] = needs, label
                if check_ip is not None and request.path not in exempt:
                    if needs is not None and needs.guard_counts_ip:
                        request[IP_PENDING] = True  # counted by the guard with the token check
                    else:
                        await check_ip(request)
                if needs is not None:
                    await needs.check(request)
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:  # redirects and the like are answers, not errors
                    status = exc.status
                    exc.headers["X-Request-ID"] = request_id
                    raise
                response = error_response(from_http_exception(exc))
            except Exception as exc:
                response = error_to_response(request, exc)
            status = response.status
            if not response.prepared:  # a handler that streams sets the header itself
                response.headers["X-Request-ID"] = request_id
            return response
        finally:
            database.leave(database_token)
            elapsed = time.perf_counter() - started
            observe(request.method, label, status, elapsed)
            if access_log is not None:
                access_log.record(request_id, request.method, request.path, status, elapsed, request.remote)
            request_id_var.reset(id_token)

    return request_middleware
