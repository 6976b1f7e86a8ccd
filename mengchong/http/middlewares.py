"""The request middleware: request id, database context, access log and latency metrics.

One middleware rather than four keeps the per-request cost to one coroutine frame; it sits
outside the error middleware so it logs and measures the status the client really gets.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from mengchong.http.metrics import Metrics
from mengchong.keys import REQUEST_ID
from mengchong.logs import request_id_var
from mengchong.storage.database import Database

Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

access_log = logging.getLogger("mengchong.access")
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def route_label(request: web.Request) -> str:
    """The route template (``/v1/pets/{pet_id}``), so metrics don't explode per id."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def build_request_middleware(database: Database, metrics: Metrics, *, log_access: bool) -> Middleware:
    @web.middleware
    async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _CLIENT_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request[REQUEST_ID] = request_id
        token = request_id_var.set(request_id)
        status = 500  # what the client sees if the connection dies mid-handler
        try:
            with database.activate():
                response = await handler(request)
            status = response.status
            return response
        finally:
            elapsed = time.perf_counter() - started
            metrics.observe_request(request.method, route_label(request), status, elapsed)
            if log_access:
                access_log.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    status,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "remote": request.remote,
                    },
                )
            request_id_var.reset(token)

    return request_middleware


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every response, streamed ones included, carries X-Request-ID."""
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers["X-Request-ID"] = request_id
