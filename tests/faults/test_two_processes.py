"""Two real ``mengchong serve`` processes sharing one PostgreSQL database, one Redis key prefix and
one RabbitMQ queue prefix behave as one server:

- a rate limit is one budget for both: L requests a minute in all, not L per process (per client
  IP on a public route, and per user on an authenticated one);
- a user tapping "check in" on both at the same moment is granted once, the other tap is 409,
  and both processes then show the same balance and the same status (including the copies each
  process kept in memory before the taps);
- orders for a product of limited stock, sent to both at once, never oversell: as many succeed
  as there was stock, the rest are 422 out of stock, and exactly the points of the sold units
  are spent.

The two start at the same moment on a database they have not used yet, as replicas do.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from fault_servers import ServerProcess as Server
from fault_servers import server_processes, services_env, with_logs

pytestmark = pytest.mark.services

REQUESTS_SECONDS = 60.0  # bounds every batch of requests; they take well under a second
NO_LIMITS = {"MENGCHONG__RATELIMIT__ENABLED": "false"}  # the setup logs in dozens of users
ADMIN_CODE = "boss"

Envelope = dict[str, Any]
T = TypeVar("T")


@pytest.fixture
def shared_env(
    tmp_path: Path,
    migrated_postgres_url: str,
    redis_url: str,
    redis_prefix: str,
    amqp_url: str,
    amqp_queues: str,
) -> dict[str, str]:
    """Settings both processes share: this test's database, Redis prefix and queue prefix."""
    env = services_env(tmp_path, migrated_postgres_url, redis_url, redis_prefix, amqp_url, amqp_queues)
    return env | {"MENGCHONG__AUTH__ADMIN_OPENIDS": f'["mock-{ADMIN_CODE}"]'}


# --- Requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def call(
    session: aiohttp.ClientSession,
    server: Server,
    method: str,
    path: str,
    *,
    user: User | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Envelope]:
    """One request; the status and the envelope."""
    sent = {**(user.auth if user else {}), **(headers or {})}
    async with session.request(method, server.base + path, json=json, headers=sent) as response:
        return response.status, await response.json()


async def together(*requests: Awaitable[T]) -> list[T]:
    """The requests sent concurrently; every batch is bounded, never timed."""
    async with asyncio.timeout(REQUESTS_SECONDS):
        return await asyncio.gather(*requests)


async def login(session: aiohttp.ClientSession, server: Server, code: str) -> User:
    status, body = await call(session, server, "POST", "/v1/auth/wechat_login", json={"code": code})
    assert status == 200, with_logs((code, body), server)
    return User(int(body["data"]["user_info"]["user_id"]), body["data"]["token"])


async def logins(session: aiohttp.ClientSession, pair: list[Server], codes: list[str]) -> list[User]:
    """Log in every code, alternating between the processes."""
    return await together(*(login(session, pair[i % 2], code) for i, code in enumerate(codes)))


async def balance(session: aiohttp.ClientSession, server: Server, user: User) -> int:
    status, body = await call(session, server, "GET", "/v1/users/profile", user=user)
    assert status == 200, with_logs(body, server)
    return int(body["data"]["points_balance"])


def codes(statuses: list[tuple[int, Envelope]]) -> Counter[tuple[int, int]]:
    """How many answers of each (status, envelope code)."""
    return Counter((status, body["code"]) for status, body in statuses)


# --- Rate limits ----------------------------------------------------------------------------

LIMIT = 10
NO_PRODUCT = "0" * 32  # a well-formed product id of no product: a 404 after the limiter


async def test_a_client_ip_s_rate_limit_is_one_budget_for_both_processes(
    tmp_path: Path, shared_env: dict[str, str], fault_report: Callable[[str], None]
) -> None:
    env = {**shared_env, "MENGCHONG__RATELIMIT__PER_IP": f'"{LIMIT}/minute"'}
    async with server_processes(tmp_path, env) as pair, aiohttp.ClientSession() as session:
        # Not the list, GET /v1/mall/products: it counts the client IP only on a cache miss (by
        # design). A product's own route counts every request; each one admitted for a product
        # that does not exist is a 404.
        path = f"/v1/mall/products/{NO_PRODUCT}"
        answers = await together(*(call(session, pair[i % 2], "GET", path) for i in range(3 * LIMIT)))
        seen = codes(answers)
        assert seen == {(404, 40401): LIMIT, (429, 42901): 2 * LIMIT}, with_logs(seen, *pair)
        refusals = [body for status, body in answers if status == 429]
        assert all(body["message"] for body in refusals), refusals  # the error envelope, no data
        per_process = Counter(pair[i % 2].name for i, (status, _) in enumerate(answers) if status != 429)
    fault_report(
        f"two processes, per client IP: {3 * LIMIT} requests, {LIMIT} admitted "
        f"(A {per_process['A']}, B {per_process['B']}), {2 * LIMIT} refused 429/42901 "
        f"(limit {LIMIT}/minute)"
    )


async def test_a_user_s_rate_limit_is_one_budget_for_both_processes(
    tmp_path: Path, shared_env: dict[str, str], fault_report: Callable[[str], None]
) -> None:
    env = {**shared_env, "MENGCHONG__RATELIMIT__PER_USER": f'"{LIMIT}/minute"'}
    async with server_processes(tmp_path, env) as pair, aiohttp.ClientSession() as session:
        user = await login(session, pair[0], "limited")
        answers = await together(
            *(call(session, pair[i % 2], "GET", "/v1/users/profile", user=user) for i in range(3 * LIMIT))
        )
        seen = codes(answers)
        assert seen == {(200, 0): LIMIT, (429, 42901): 2 * LIMIT}, with_logs(seen, *pair)
        per_process = Counter(pair[i % 2].name for i, (status, _) in enumerate(answers) if status == 200)
    fault_report(
        f"two processes, per user: {3 * LIMIT} requests of one user, {LIMIT} admitted "
        f"(A {per_process['A']}, B {per_process['B']}), {2 * LIMIT} refused 429/42901 "
        f"(limit {LIMIT}/minute)"
    )


# --- Check-in double taps -------------------------------------------------------------------

TAPPERS = 20
BASE_POINTS = 10  # checkin.base_points; a first check-in is streak day 1, which has no bonus


async def test_a_check_in_tapped_on_both_processes_at_once_is_granted_once(
    tmp_path: Path, shared_env: dict[str, str], fault_report: Callable[[str], None]
) -> None:
    env = {**shared_env, **NO_LIMITS}
    async with server_processes(tmp_path, env) as pair, aiohttp.ClientSession() as session:
        a, b = pair
        users = await logins(session, pair, [f"tapper{i}" for i in range(TAPPERS)])

        async def status(server: Server, user: User) -> Envelope:
            code, body = await call(session, server, "GET", "/v1/checkin/status", user=user)
            assert code == 200, with_logs(body, server)
            return body["data"]

        # Each process keeps statuses and profiles in memory: have both keep the "before" ones.
        before = await together(*(status(server, user) for user in users for server in pair))
        assert not any(data["today_checked_in"] for data in before), before
        await together(*(balance(session, server, user) for user in users for server in pair))

        taps = await together(
            *(
                together(
                    call(session, a, "POST", "/v1/checkin", user=user),
                    call(session, b, "POST", "/v1/checkin", user=user),
                )
                for user in users
            )
        )
        for user, answers in zip(users, taps, strict=True):
            seen = codes(answers)
            assert seen == {(200, 0): 1, (409, 40901): 1}, with_logs((user, answers), *pair)
        granted = [next(body["data"] for code, body in answers if code == 200) for answers in taps]
        assert all(data["reward_points"] == BASE_POINTS for data in granted), granted
        assert all(data["bonus_reward"] is None for data in granted), granted
        winners = Counter(pair[0 if answers[0][0] == 200 else 1].name for answers in taps)

        after = await together(
            *(together(balance(session, a, user), balance(session, b, user)) for user in users)
        )
        assert after == [[BASE_POINTS, BASE_POINTS]] * TAPPERS, with_logs(after, *pair)
        statuses = await together(*(together(status(a, user), status(b, user)) for user in users))
        for user, (on_a, on_b), data in zip(users, statuses, granted, strict=True):
            assert on_a == on_b, (user, on_a, on_b)
            assert on_a["today_checked_in"], on_a
            assert on_a["consecutive_days"] == 1, on_a
            assert on_a["current_month_checkins"] == [data["date"]], on_a
    fault_report(
        f"double taps: {TAPPERS} users × 2 processes, {TAPPERS} granted "
        f"(A won {winners['A']}, B won {winners['B']}), {TAPPERS} refused 409/40901; every balance "
        f"{BASE_POINTS} and every status the same on both processes"
    )


# --- Orders of a limited stock --------------------------------------------------------------

STOCK = 10
PRICE = 30
BUYERS = 30
ORDERS = 40
GRANT = 2 * PRICE  # a buyer can pay for two units: the stock, not the points, refuses


async def test_orders_on_both_processes_never_oversell(
    tmp_path: Path, shared_env: dict[str, str], fault_report: Callable[[str], None]
) -> None:
    env = {**shared_env, **NO_LIMITS}
    async with server_processes(tmp_path, env) as pair, aiohttp.ClientSession() as session:
        a, b = pair
        admin = await login(session, a, ADMIN_CODE)
        product = {
            "name": "Fish",
            "type": "virtual_pet_food",
            "category": "food",
            "points_cost": PRICE,
            "item_id": "food.fish",
            "stock_quantity": STOCK,
        }
        created, body = await call(session, b, "POST", "/v1/admin/products", user=admin, json=product)
        assert created == 201, with_logs(body, *pair)
        product_id = body["data"]["product_id"]
        buyers = await logins(session, pair, [f"buyer{i}" for i in range(BUYERS)])
        grants = await together(
            *(
                call(
                    session,
                    pair[i % 2],
                    "POST",
                    f"/v1/admin/users/{buyer.id}/points",
                    user=admin,
                    json={"delta": GRANT, "reason": "two-process fault test"},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                for i, buyer in enumerate(buyers)
            )
        )
        assert codes(grants) == {(200, 0): BUYERS}, with_logs(grants, *pair)

        async def stock_on(server: Server) -> int:
            status, body = await call(session, server, "GET", f"/v1/mall/products/{product_id}")
            assert status == 200, with_logs(body, server)
            return int(body["data"]["stock_quantity"])

        assert await together(stock_on(a), stock_on(b)) == [STOCK, STOCK]

        def place(i: int) -> Awaitable[tuple[int, Envelope]]:
            return call(
                session,
                pair[i % 2],
                "POST",
                "/v1/mall/orders",
                user=buyers[i % BUYERS],
                json={"product_id": product_id, "quantity": 1},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )

        answers = await together(*(place(i) for i in range(ORDERS)))
        seen = codes(answers)
        assert seen == {(201, 0): STOCK, (422, 42202): ORDERS - STOCK}, with_logs(seen, *pair)
        sold = [body["data"] for status, body in answers if status == 201]
        assert sum(order["points_deducted"] for order in sold) == STOCK * PRICE, sold
        per_process = Counter(pair[i % 2].name for i, (status, _) in enumerate(answers) if status == 201)

        assert await together(stock_on(a), stock_on(b)) == [0, 0]
        balances = await together(*(balance(session, pair[i % 2], buyer) for i, buyer in enumerate(buyers)))
        spent = sum(GRANT - left for left in balances)
        assert spent == STOCK * PRICE, with_logs(balances, *pair)
        bought = Counter(i % BUYERS for i, (status, _) in enumerate(answers) if status == 201)
        expected = [GRANT - PRICE * bought[i] for i in range(BUYERS)]
        assert balances == expected, (balances, expected)
        listed, body = await call(session, a, "GET", f"/v1/admin/orders?product_id={product_id}", user=admin)
        assert listed == 200, body
        assert body["data"]["total"] == STOCK, body
    fault_report(
        f"orders: {ORDERS} across 2 processes for a stock of {STOCK}: {STOCK} sold "
        f"(A {per_process['A']}, B {per_process['B']}), {ORDERS - STOCK} refused 422/42202; "
        f"stock left 0, points spent {spent} = {STOCK} × {PRICE}"
    )
