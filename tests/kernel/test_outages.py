"""Backends that die or freeze while the server runs (issue 15, points 9 and 10).

The app reaches Redis and PostgreSQL through fault-injecting TCP proxies (``tests/fakes/
tcp_proxy.py``), never touching the shared services: "killed" refuses and resets connections,
"frozen" accepts and forwards nothing (a SIGSTOPped server). Killed: 503 50301 with Retry-After,
never 500. Frozen: 503 once the request deadline passes, and a write whose request gave up is
not committed when the server comes back. Back to normal: requests succeed without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from fakes.tcp_proxy import TcpProxy
from mengchong import hookimpl
from mengchong.accounts.login import INSERT_USER_IF_ABSENT
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.pipeline import error_to_response
from mengchong.http.validation import GUARD_ATTR
from mengchong.keys import database_key
from mengchong.storage.database import fetch_rows
from support import bearer, login, settings_from

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DEADLINE = 1.0
GUARD_SECONDS = 30.0  # a request still unanswered then waits for the server: not a speed limit
STATEMENT_TIMEOUT = 1.0
# Requests that reach the database when they are valid (the guard reads Redis only).
DATABASE_REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/users/profile", None),
    ("PUT", "/v1/users/profile", {"nickname": "Bobby"}),
    ("GET", "/v1/users/settings", None),
    ("PUT", "/v1/users/settings", {"notification_prefs": {}}),
    ("GET", "/v1/users/pets", None),
    ("GET", "/v1/users/points/ledger", None),
    ("POST", "/v1/auth/logout", None),
]


class Gate:
    """A test route that writes a user row in a transaction, says so, waits to be let go, then
    runs one more statement and commits: the test freezes PostgreSQL in between."""

    def __init__(self) -> None:
        self.written = asyncio.Event()
        self.go_on = asyncio.Event()
        routes = web.RouteTableDef()

        @routes.post("/v1/test/slow_write")
        async def slow_write(request: web.Request) -> web.Response:
            database = request.app[database_key]
            async with database.transaction() as connection:
                await fetch_rows(connection, INSERT_USER_IF_ABSENT, ["mid-write", "", "user", NOW, NOW])
                self.written.set()
                await self.go_on.wait()
                await fetch_rows(connection, "SELECT 1 AS one", [])
            return web.json_response({"code": 0, "message": "Success", "data": None})

        self.routes = routes

    @hookimpl
    def mengchong_routes(self, app: web.Application) -> Iterable[web.AbstractRouteDef]:
        return self.routes


class Stuck:
    """Test routes that never finish on their own: one inside a transaction, after a write."""

    def __init__(self) -> None:
        routes = web.RouteTableDef()

        @routes.post("/v1/test/stuck_write")
        async def stuck_write(request: web.Request) -> web.Response:
            async with request.app[database_key].transaction() as connection:
                await fetch_rows(connection, INSERT_USER_IF_ABSENT, ["stuck", "", "user", NOW, NOW])
                async with asyncio.timeout(3600):  # an inner timeout tells our cancel from its own
                    await asyncio.Event().wait()
            return web.json_response({"code": 0, "message": "Success", "data": None})

        self.routes = routes

    @hookimpl
    def mengchong_routes(self, app: web.Application) -> Iterable[web.AbstractRouteDef]:
        return self.routes


@pytest.fixture
async def proxies(redis_url: str, postgres_url: str) -> AsyncIterator[dict[str, TcpProxy]]:
    async with TcpProxy.to_url(redis_url) as redis, TcpProxy.to_url(postgres_url) as postgres:
        yield {"redis": redis, "postgres": postgres}


@pytest.fixture
async def outage_client(make_client, proxies, postgres_url, redis_url, redis_prefix, tmp_path):
    """``await outage_client(plugins)``: the app on the services profile (the in-process queue:
    RabbitMQ is not under test here), Redis and PostgreSQL through the proxies, a 1 s deadline."""

    async def make(plugins: Iterable[tuple[str, object]] = (), pool_max: int = 10) -> Any:
        raw = {
            "app": {"env": "test"},
            "files": {"root": str(tmp_path / "files")},
            "server": {"access_log": False, "request_timeout_seconds": DEADLINE},
            "database": {
                "url": proxies["postgres"].url(postgres_url),
                "statement_timeout_seconds": STATEMENT_TIMEOUT,
                "pool_max": pool_max,
            },
            "cache": {"url": proxies["redis"].url(redis_url), "prefix": redis_prefix},
        }
        return await make_client(settings_from(raw), plugins)

    return make


def authenticated_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route behind the login guard, path parameters filled in."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD" or getattr(route.handler, GUARD_ATTR, None) is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or re.sub(r"\{[^}]+\}", "1", info["formatter"])
        found.append((route.method, path))
    return found


async def assert_unavailable(response: Any, what: object) -> None:
    body = await response.json()
    assert response.status == 503, (what, response.status, body)
    assert body["code"] == 50301, (what, body)
    assert "postgres" not in body["message"].lower()
    assert "redis" not in body["message"].lower()
    assert int(response.headers["Retry-After"]) > 0, what
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers.get("X-Request-ID", "")), what


@pytest.mark.services
async def test_redis_killed_every_authenticated_route_and_login_answer_503(outage_client, proxies, caplog):
    client = await outage_client()
    token = (await login(client, "alice"))["token"]
    routes = authenticated_routes(client.server.app)
    assert len(routes) >= 15

    caplog.set_level(logging.WARNING, logger="mengchong.http")
    await proxies["redis"].set_mode("killed")
    for method, path in routes:
        await assert_unavailable(await client.request(method, path, headers=bearer(token)), (method, path))
    await assert_unavailable(await client.post("/v1/auth/wechat_login", json={"code": "bob"}), "login")
    warnings = [r for r in caplog.records if r.name == "mengchong.http" and r.levelno == logging.WARNING]
    assert warnings
    assert all(r.backend == "cache" for r in warnings)
    assert all(r.error in ("ConnectionError", "ConnectionRefusedError") for r in warnings), warnings
    assert not [r for r in caplog.records if r.name == "mengchong.http" and r.levelno >= logging.ERROR]
    readiness = await (await client.get("/readyz")).json()
    assert readiness["data"]["backends"]["cache"]["ok"] is False

    await proxies["redis"].set_mode("pass")
    assert (await client.get("/v1/users/profile", headers=bearer(token))).status == 200
    assert (await client.post("/v1/auth/wechat_login", json={"code": "bob"})).status == 200


@pytest.mark.services
async def test_postgres_killed_answers_503_and_never_500(outage_client, proxies, caplog):
    client = await outage_client()
    token = (await login(client, "alice"))["token"]

    caplog.set_level(logging.WARNING, logger="mengchong.http")
    await proxies["postgres"].set_mode("killed")
    for method, path, body in DATABASE_REQUESTS:
        response = await client.request(method, path, json=body, headers=bearer(token))
        await assert_unavailable(response, (method, path))
    await assert_unavailable(await client.post("/v1/auth/wechat_login", json={"code": "bob"}), "login")
    # every other authenticated route, valid or not, answers without a 500
    for method, path in authenticated_routes(client.server.app):
        response = await client.request(method, path, json={}, headers=bearer(token))
        assert response.status != 500, (method, path, await response.text())
        if response.status == 503:
            await assert_unavailable(response, (method, path))
    warnings = [r for r in caplog.records if r.name == "mengchong.http" and r.levelno == logging.WARNING]
    assert warnings
    assert {r.backend for r in warnings} == {"database"}
    assert not [r for r in caplog.records if r.name == "mengchong.http" and r.levelno >= logging.ERROR]

    await proxies["postgres"].set_mode("pass")
    token = (await login(client, "alice"))["token"]  # the logout above revoked nothing: it failed
    assert (await client.get("/v1/users/profile", headers=bearer(token))).status == 200


async def before_thaw(request: Any) -> Any:
    """The answer to ``request``, which must come while the server is still frozen."""
    async with asyncio.timeout(GUARD_SECONDS):
        return await request


@pytest.mark.services
async def test_redis_frozen_requests_answer_503_at_the_deadline(outage_client, proxies):
    client = await outage_client()
    token = (await login(client, "alice"))["token"]

    await proxies["redis"].set_mode("frozen")
    profile = await before_thaw(client.get("/v1/users/profile", headers=bearer(token)))
    await assert_unavailable(profile, "profile")
    await assert_unavailable(
        await before_thaw(client.post("/v1/auth/wechat_login", json={"code": "bob"})), "login"
    )
    assert (await before_thaw(client.get("/readyz"))).status == 503

    await proxies["redis"].set_mode("pass")
    assert (await client.get("/v1/users/profile", headers=bearer(token))).status == 200
    assert (await client.post("/v1/auth/wechat_login", json={"code": "bob"})).status == 200


@pytest.mark.services
async def test_postgres_frozen_requests_answer_503_and_recover(outage_client, proxies):
    client = await outage_client()
    token = (await login(client, "alice"))["token"]

    await proxies["postgres"].set_mode("frozen")
    for method, path, body in DATABASE_REQUESTS[:3]:
        response = await before_thaw(client.request(method, path, json=body, headers=bearer(token)))
        await assert_unavailable(response, (method, path))
    assert (await before_thaw(client.get("/readyz"))).status == 503

    await proxies["postgres"].set_mode("pass")
    profile = await client.get("/v1/users/profile", headers=bearer(token))
    assert profile.status == 200
    assert (await profile.json())["data"]["nickname"] != "Bobby"  # the frozen update never landed


async def answer_then_thaw(proxy: TcpProxy, request: Any) -> Any:
    """Send ``request`` while ``proxy`` is frozen; thaw it once the request is answered, or after
    :data:`GUARD_SECONDS` when it is not (without a deadline it waits for the thaw, then commits),
    and fail then: the answer must not need the server."""
    sent = asyncio.ensure_future(request)
    done, _ = await asyncio.wait([sent], timeout=GUARD_SECONDS)
    await proxy.set_mode("pass")
    response = await sent
    assert done, f"answered only once the server came back: {response.status}"
    return response


async def wait_for_sessions_to_end(postgres_url: str, admin: asyncpg.Connection) -> None:
    """Until the test database has no session but ``admin``'s: every byte held during the freeze
    has reached PostgreSQL and been acted on."""
    database = postgres_url.rsplit("/", 1)[1]
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
    for _ in range(500):
        if await admin.fetchval(query, database) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("sessions of the frozen app still open")


async def user_exists(admin: asyncpg.Connection, openid: str) -> bool:
    return bool(await admin.fetchval("SELECT count(*) FROM users WHERE openid = $1", openid))


@pytest.mark.services
async def test_a_login_whose_request_timed_out_during_a_freeze_is_not_committed(
    outage_client, proxies, postgres_url
):
    client = await outage_client(pool_max=1)
    await login(client, "alice")  # the pool holds a connection: the freeze catches it mid-use

    await proxies["postgres"].set_mode("frozen")
    response = await answer_then_thaw(
        proxies["postgres"], client.post("/v1/auth/wechat_login", json={"code": "carol"})
    )
    await assert_unavailable(response, "login")
    # the pool's one connection came back (cancelled in BEGIN, tortoise alone would keep it)
    await login(client, "dave")
    await client.close()
    admin = await asyncpg.connect(postgres_url)
    try:
        await wait_for_sessions_to_end(postgres_url, admin)
        assert not await user_exists(admin, "mock-carol")
        assert await user_exists(admin, "mock-alice")
    finally:
        await admin.close()


@pytest.mark.services
async def test_a_transaction_frozen_midway_is_rolled_back_not_committed_later(
    outage_client, proxies, postgres_url
):
    gate = Gate()
    client = await outage_client([("slow-write", gate)])

    sent = asyncio.ensure_future(client.post("/v1/test/slow_write"))
    await gate.written.wait()  # the INSERT reached PostgreSQL; its COMMIT has not been sent
    await proxies["postgres"].set_mode("frozen")
    gate.go_on.set()
    response = await answer_then_thaw(proxies["postgres"], sent)
    await assert_unavailable(response, "slow write")
    await client.close()
    admin = await asyncpg.connect(postgres_url)
    try:
        await wait_for_sessions_to_end(postgres_url, admin)
        assert not await user_exists(admin, "mid-write")
    finally:
        await admin.close()


async def test_past_the_deadline_a_request_answers_503_and_its_transaction_rolls_back(
    profile, make_client, caplog
):
    settings = settings_from(profile, server={"request_timeout_seconds": 0.3})
    client = await make_client(settings, [("stuck", Stuck())])
    caplog.set_level(logging.WARNING, logger="mengchong.http")

    response = await client.post("/v1/test/stuck_write", headers={"X-Request-ID": "stuck-1"})
    body = await response.json()
    assert response.status == 503, body
    assert body == {"code": 50301, "message": "The request took too long; try again shortly"}
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-Request-ID"] == "stuck-1"
    assert any("deadline" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    database = client.server.app[database_key]
    with database.activate():
        rows = await fetch_rows(database.connection, "SELECT id FROM users WHERE openid = $1", ["stuck"])
    assert rows == []
    # the same connection and the server go on as before
    assert (await client.get("/healthz")).status == 200
    await login(client, "alice")


def test_a_503_of_our_own_gets_a_retry_after():
    """Handler code that catches an outage and answers 503 itself (pets' interact) still tells
    the client when to come back; one that says when keeps its own."""
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request("POST", "/v1/pets/x/interact")
    plain = error_to_response(request, ApiError(ErrorCode.UNAVAILABLE, "The pet could not be saved"))
    assert plain.status == 503
    assert int(plain.headers["Retry-After"]) > 0
    own = ApiError(ErrorCode.UNAVAILABLE, "later", headers={"Retry-After": "60"})
    assert error_to_response(request, own).headers["Retry-After"] == "60"
    assert "Retry-After" not in error_to_response(request, ApiError(ErrorCode.CONFLICT, "x")).headers
    assert error_to_response(request, ValueError("a bug")).status == 500
