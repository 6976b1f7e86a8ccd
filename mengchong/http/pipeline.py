"""The request pipeline: what runs around every handler. Request id, database context, the
per-IP rate limit, what the route's decorators ask for, every error turned into the envelope,
latency metrics and the access log.

It is not an aiohttp middleware: aiohttp runs its middlewares through a chain it builds around
every request, which on its own cost a health check 14 % of its throughput. Instead
:meth:`RequestPipeline.mount` wraps each route's handler once, after every route is added, and
what a route needs (:class:`~mengchong.http.validation.RouteNeeds`, its metrics label) is read
then, not per request. Unknown paths and wrong methods reach the pipeline through one catch-all
route added last (:func:`unmatched`), so a 404 or 405 is enveloped, logged, measured and
rate-limited like any answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from random import getrandbits

from aiohttp import web
from aiohttp.typedefs import Handler

from mengchong.http.access_log import AccessLog
from mengchong.http.client_ip import client_ip
from mengchong.http.deadline import Deadlines
from mengchong.http.envelope import error_response, from_http_exception
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.metrics import Metrics
from mengchong.http.ratelimit import Limiter
from mengchong.http.routing import UNMATCHED, is_unmatched, resource_label
from mengchong.http.validation import RouteNeeds
from mengchong.keys import IP_PENDING, deadlines_key, settings_key
from mengchong.logs import request_id_var
from mengchong.storage.database import Database
from mengchong.storage.outage import RETRY_AFTER_SECONDS, find_outage

log = logging.getLogger("mengchong.http")
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id(incoming: str) -> str:
    """The client's X-Request-ID when it is sane, else 32 random hex digits. An id names a
    request in logs and is no secret, so the ``random`` module's generator serves (a third of
    the cost of ``os.urandom``, a system call)."""
    return incoming if incoming and _CLIENT_REQUEST_ID.fullmatch(incoming) else f"{getrandbits(128):032x}"


def unavailable(message: str = "A backend is unavailable; try again shortly") -> ApiError:
    """503 50301 with Retry-After: what a client sees of an outage. Which backend is for the log."""
    return ApiError(ErrorCode.UNAVAILABLE, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def error_to_response(request: web.Request, exc: Exception) -> web.Response:
    """Our errors in the envelope; a backend that fails to answer (anywhere in the exception's
    chain, :mod:`mengchong.storage.outage`) is 503 with Retry-After and one WARNING line naming
    it; anything else unexpected is logged and answered 50001, no trace. (aiohttp's own HTTP
    errors are mapped where they are caught.)"""
    if isinstance(exc, ApiError):
        response = error_response(exc)
        if exc.code is ErrorCode.UNAVAILABLE and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    outage = find_outage(exc)
    if outage is not None:
        backend, cause = outage
        log.warning(
            "%s unavailable on %s %s: %s",
            backend,
            request.method,
            request.path,
            type(cause).__name__,
            extra={"backend": backend, "error": type(cause).__name__},
        )
        return error_response(unavailable())
    if isinstance(exc, ConnectionResetError):  # the client left before sending its whole body
        log.info("client closed the connection on %s %s", request.method, request.path)
        return error_response(
            ApiError(ErrorCode.BAD_REQUEST, "The connection closed before the body was read")
        )
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(ApiError(ErrorCode.INTERNAL, "Internal server error"))


def deadline_response(request: web.Request, seconds: float) -> web.Response:
    log.warning(
        "request deadline (%g s) passed on %s %s",
        seconds,
        request.method,
        request.path,
        extra={"timeout_seconds": seconds},
    )
    return error_response(unavailable("The request took too long; try again shortly"))


async def unmatched(request: web.Request) -> web.StreamResponse:
    """The catch-all route's handler: 405 with Allow when another route has the path under other
    methods, else 404. Only unknown requests come here, so asking every resource is affordable."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if not is_unmatched(resource):
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


class RequestPipeline:
    """Wraps handlers in the request pipeline; :meth:`mount` applies it to a whole app."""

    def __init__(
        self, database: Database, metrics: Metrics, limiter: Limiter, access_log: AccessLog | None
    ) -> None:
        self.database = database
        self.metrics = metrics
        self.limiter = limiter
        self.access_log = access_log
        self.deadlines: Deadlines | None = None

    def mount(self, app: web.Application) -> None:
        """Add the catch-all route, then wrap every route's handler. Call once, after the last
        route is added: a route added later would run without the pipeline."""
        timeout = app[settings_key].server.request_timeout_seconds
        self.deadlines = Deadlines(timeout) if timeout > 0 else None
        app[deadlines_key] = self.deadlines
        app.router.add_route("*", "/{path:.*}", unmatched, name=UNMATCHED)
        for route in app.router.routes():
            label = resource_label(route.resource)
            # aiohttp has no public way to replace a route's handler; _handler is where every
            # route kind (plain, dynamic, static) keeps it, and a test checks each is wrapped.
            route._handler = self.wrap(route.handler, RouteNeeds.of(route.handler), label)

    def wrap(self, handler: Handler, needs: RouteNeeds | None, label: str) -> Handler:
        """``handler`` inside the pipeline. In order: request id, database context, the request's
        deadline, the client IP's limit, the route's early answer if it has one, ``needs`` (guard,
        JSON body, schemas), the handler; any
        failure becomes the envelope (past the deadline: 503); then the X-Request-ID header,
        metrics and the access line."""
        database = self.database
        observe = self.metrics.observe_request
        access_log = self.access_log
        limits = self.limiter.settings
        check_ip = self.limiter.check_ip if limits.enabled else None
        exempt = frozenset(limits.exempt)
        guard_counts_ip = needs is not None and needs.guard_counts_ip
        early = needs.early if needs is not None else None
        deadlines = self.deadlines

        @functools.wraps(handler)
        async def in_pipeline(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            request_id = new_request_id(request.headers.get("X-Request-ID", ""))
            id_token = request_id_var.set(request_id)
            database_token = database.enter()
            status = 500  # what the client sees if the connection dies mid-handler
            task = deadlines.enter() if deadlines is not None else None
            try:
                try:
                    if check_ip is not None and request.path not in exempt:
                        if guard_counts_ip:
                            request[IP_PENDING] = True  # counted by the guard with the token check
                        else:
                            await check_ip(request)
                    if early is None or (response := await early(request)) is None:
                        if needs is not None:
                            await needs.check(request)
                        response = await handler(request)
                except web.HTTPException as exc:
                    if exc.status < 400:  # redirects and the like are answers, not errors
                        status = exc.status
                        exc.headers["X-Request-ID"] = request_id
                        raise
                    response = error_response(from_http_exception(exc))
                except asyncio.CancelledError:
                    # ours when the deadline passed and nobody else (shutdown) also cancelled
                    if deadlines is None or task is None or not deadlines.leave(task) or task.cancelling():
                        raise
                    response = deadline_response(request, deadlines.seconds)
                except Exception as exc:
                    if deadlines is not None and task is not None and deadlines.leave(task):
                        response = deadline_response(request, deadlines.seconds)  # the cancel's fallout
                    else:
                        response = error_to_response(request, exc)
                status = response.status
                if not response.prepared:  # a handler that streams sets the header itself
                    response.headers["X-Request-ID"] = request_id
                return response
            finally:
                if deadlines is not None and task is not None:
                    deadlines.leave(task)
                database.leave(database_token)
                elapsed = time.perf_counter() - started
                observe(request.method, label, status, elapsed)
                if access_log is not None:
                    access_log.record(
                        request_id, request.method, request.path, status, elapsed, client_ip(request, limits)
                    )
                request_id_var.reset(id_token)

        return in_pipeline
