"""Default plugin: ``/healthz`` (the process answers), ``/readyz`` (every backend answers)
and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp_apigami import docs, response_schema

from mengchong.hookspecs import hookimpl
from mengchong.http.envelope import json_response, ok, ok_body
from mengchong.http.schemas import METRICS_CONTENT, Health, NotReady, Readiness, envelope
from mengchong.keys import (
    cache_key,
    database_key,
    documents_key,
    files_key,
    metrics_key,
    plugin_manager_key,
    queue_key,
)
from mengchong.plugin_manager import calls_by_plugin

CHECK_TIMEOUT_SECONDS = 2.0
HEALTHY = ok_body({"status": "ok"})
routes = web.RouteTableDef()


def backend_checks(app: web.Application) -> list[tuple[str, str, Callable[[], Awaitable[Any]]]]:
    """(name, adapter, ping) of every configured backend, plugins' own included."""
    database = app[database_key]
    checks: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = [
        ("database", database.dialect, database.ping),
        ("cache", app[cache_key].name, app[cache_key].ping),
        ("documents", app[documents_key].name, app[documents_key].ping),
        ("queue", app[queue_key].name, app[queue_key].ping),
        ("files", app[files_key].name, app[files_key].ping),
    ]
    for plugin, extra in calls_by_plugin(app[plugin_manager_key], "mengchong_readiness", app=app):
        checks.extend((name, plugin, check) for name, check in extra)
    return checks


async def run_check(adapter: str, check: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception as exc:
        error = str(exc) or type(exc).__name__
        return {"ok": False, "adapter": adapter, "error": error[:200]}
    return {"ok": True, "adapter": adapter, "ms": round((time.perf_counter() - started) * 1000, 1)}


@routes.get("/healthz")
@docs(tags=["health"], summary="The process is alive")
@response_schema(envelope(Health))
async def healthz(request: web.Request) -> web.Response:
    return json_response(HEALTHY)


@routes.get("/readyz")
@docs(tags=["health"], summary="Every configured backend answers (503 and the failing ones otherwise)")
@response_schema(envelope(Readiness))
@response_schema(NotReady, 503, description="A backend does not answer; `data` says which")
async def readyz(request: web.Request) -> web.Response:
    checks = backend_checks(request.app)
    results = await asyncio.gather(*(run_check(adapter, check) for _, adapter, check in checks))
    backends = {name: result for (name, _, _), result in zip(checks, results, strict=True)}
    if all(result["ok"] for result in results):
        return ok({"status": "ready", "backends": backends})
    failing = ", ".join(name for name, result in backends.items() if not result["ok"])
    body = {
        "code": 50301,
        "message": f"Not ready: {failing}",
        "data": {"status": "not ready", "backends": backends},
    }
    return web.json_response(body, status=503)


@routes.get("/metrics")
@docs(
    tags=["health"], summary="Prometheus metrics (text exposition format)", responses={"200": METRICS_CONTENT}
)
async def metrics(request: web.Request) -> web.Response:
    return request.app[metrics_key].render()


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes
