"""A backend stopped while the API is used, then back.

- RabbitMQ stopped: check-ins still succeed; their events wait in the outbox and, once the broker
  is back, each reaches its subscriber exactly once (as the subscriber sees it).
- PostgreSQL restarted under a stream of writes: requests meanwhile answer 503 (never 500), the
  pool reconnects without a restart, and every write that was answered 200 is in the database.
- Redis stopped: the server stays up; public reads that can do without it (the product list and
  a product, read from the database, the OpenAPI document) still answer 200, served without
  their per-IP limit (``ratelimit.fail_open``); what needs it (every route behind the login
  guard, whose users' token versions live there, the boards, and writes such as a login, whose
  commit tells Redis of the user's new state) answers 503 50301 at once; all recovers without
  a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from fakes.tcp_proxy import TcpProxy
from mengchong import hookimpl
from mengchong.economy.models import PointsLedgerEntry
from mengchong.events import Event, Subscriber
from mengchong.keys import database_key, metrics_key
from mengchong.storage.models import OutboxEvent
from mengchong_plugins.checkin.events import CheckinCompleted
from support import bearer, eventually, login, settings_from

pytestmark = pytest.mark.services

GUARD_SECONDS = 60.0  # a wait that long means a hang: not a speed limit
QUEUE_SETTINGS = {"retry_base_seconds": 0.05, "max_attempts": 3}


@dataclass
class Deliveries:
    """A throwaway subscriber of check-ins noting each delivery's event id."""

    name: str = "faults.checkins"
    seen: Counter[str] = field(default_factory=Counter)

    @hookimpl
    def mengchong_subscribers(self, app: web.Application) -> Iterable[Subscriber]:
        return [Subscriber(self.name, (CheckinCompleted,), self.handle)]

    async def handle(self, app: web.Application, event: Event) -> None:
        self.seen[event.id] += 1


def base_settings(tmp_path: Any) -> dict[str, Any]:
    return {
        "app": {"env": "test"},
        "files": {"root": str(tmp_path / "files")},
        "server": {"access_log": False, "request_timeout_seconds": 2.0},
        "events": {"relay_interval_seconds": 0.05},
        "plugins": {"enabled": ["pets", "checkin"]},
    }


async def test_with_rabbitmq_stopped_the_api_works_and_each_event_arrives_once_after(
    make_client, migrated_postgres_url, redis_url, redis_prefix, amqp_url, amqp_queues, tmp_path, fault_report
):
    deliveries = Deliveries()
    async with TcpProxy.to_url(amqp_url) as broker:
        raw = base_settings(tmp_path) | {
            "database": {"url": migrated_postgres_url},
            "cache": {"url": redis_url, "prefix": redis_prefix},
            # aio-pika's own URL option: try to reconnect every 0.5 s, not 5
            "queue": {
                "url": broker.url(amqp_url) + "?reconnect_interval=0.5",
                "prefix": amqp_queues,
                **QUEUE_SETTINGS,
            },
        }
        client = await make_client(settings_from(raw), [(deliveries.name, deliveries)])
        app = client.server.app
        before = [bearer((await login(client, f"before{n}"))["token"]) for n in range(3)]
        for auth in before:
            assert (await client.post("/v1/checkin", headers=auth)).status == 200
        await eventually(lambda: len(deliveries.seen) == 3, timeout=GUARD_SECONDS)

        await broker.set_mode("killed")
        stopped_at = time.monotonic()
        users = [bearer((await login(client, f"user{n}"))["token"]) for n in range(20)]
        statuses = Counter([(await client.post("/v1/checkin", headers=auth)).status for auth in users])
        assert statuses == {200: 20}, statuses
        with app[database_key].activate():
            waiting = await OutboxEvent.filter(relayed_at=None, name="checkin.completed").count()
        assert waiting == 20  # held in the outbox, not lost and not sent
        await asyncio.sleep(1.0)  # the relay tries meanwhile, and fails
        outage = time.monotonic() - stopped_at

        await broker.set_mode("pass")
        back_at = time.monotonic()
        await eventually(lambda: len(deliveries.seen) == 23, timeout=GUARD_SECONDS)
        recovered = time.monotonic() - back_at
        await asyncio.sleep(1.0)  # a duplicate would come now: a redelivery or a second relay
        assert set(deliveries.seen.values()) == {1}, deliveries.seen
        with app[database_key].activate():
            assert await OutboxEvent.filter(relayed_at=None).count() == 0
        await client.close()  # while the broker is still reachable through the proxy
    fault_report(
        f"RabbitMQ stopped {outage:.1f} s: 20 check-ins sent, answers {dict(statuses)}, 20 events "
        f"held in the outbox; broker back: all 23 delivered once each after {recovered:.1f} s"
    )


async def adjust(client: Any, admin: dict[str, str], user_id: int, key: str) -> int:
    """One point for the user under the idempotency key ``key``: its ledger ref is admin:<key>."""
    response = await client.post(
        f"/v1/admin/users/{user_id}/points",
        json={"delta": 1, "reason": "fault test"},
        headers=admin | {"Idempotency-Key": key},
    )
    body = await response.json()
    assert response.status in (200, 503), (response.status, body)  # never a 500
    return response.status


async def test_a_postgres_restart_loses_no_acknowledged_write(
    make_client, postgres_url, redis_url, redis_prefix, tmp_path, fault_report
):
    async with TcpProxy.to_url(postgres_url) as database_proxy:
        raw = base_settings(tmp_path) | {
            "database": {"url": database_proxy.url(postgres_url), "statement_timeout_seconds": 1.0},
            "cache": {"url": redis_url, "prefix": redis_prefix},
            "auth": {"admin_openids": ["mock-boss"]},
            "ratelimit": {"enabled": False},  # a stream of writes from one client
        }
        client = await make_client(settings_from(raw))
        admin = bearer((await login(client, "boss"))["token"])
        user_id = int((await login(client, "saver"))["user_info"]["user_id"])

        acknowledged: list[str] = []
        answers: Counter[int] = Counter()
        stop = asyncio.Event()
        first_ok_after_restart: list[float] = []
        restarted_at: list[float] = []

        async def writer(worker: int) -> None:
            n = 0
            while not stop.is_set():
                key = f"w{worker}-{n}"
                n += 1
                status = await adjust(client, admin, user_id, key)
                answers[status] += 1
                if status == 200:
                    acknowledged.append(key)
                    if restarted_at and not first_ok_after_restart:
                        first_ok_after_restart.append(time.monotonic() - restarted_at[0])
                else:
                    await asyncio.sleep(0.05)

        async with asyncio.timeout(GUARD_SECONDS):
            workers = [asyncio.create_task(writer(n)) for n in range(4)]
            await eventually(lambda: len(acknowledged) >= 40, timeout=GUARD_SECONDS)
            await database_proxy.set_mode("killed")  # every connection reset, the port refusing
            during = len(acknowledged)
            await asyncio.sleep(1.5)
            await database_proxy.set_mode("pass")  # the server is back, a fresh process
            restarted_at.append(time.monotonic())
            await eventually(lambda: len(acknowledged) >= during + 40, timeout=GUARD_SECONDS)
            stop.set()
            await asyncio.gather(*workers)

        assert answers[503] > 0  # the outage was seen
        with client.server.app[database_key].activate():
            written = set(await PointsLedgerEntry.filter(user_id=user_id).values_list("ref", flat=True))
        lost = [key for key in acknowledged if f"admin:{key}" not in written]
        assert lost == []
        unacknowledged_but_written = len(written) - len(acknowledged)
    fault_report(
        f"PostgreSQL down 1.5 s under 4 writers: {sum(answers.values())} writes, answers "
        f"{dict(sorted(answers.items()))}; first 200 {first_ok_after_restart[0]:.2f} s after it was "
        f"back; {len(acknowledged)} acknowledged, 0 lost; {unacknowledged_but_written} written "
        "though answered 503 (their commit's answer was cut)"
    )


async def test_with_redis_stopped_public_reads_still_answer_and_the_rest_is_503(
    make_client, postgres_url, redis_url, redis_prefix, tmp_path, fault_report
):
    async with TcpProxy.to_url(redis_url) as redis:
        raw = base_settings(tmp_path) | {
            "database": {"url": postgres_url},
            "cache": {"url": redis.url(redis_url), "prefix": redis_prefix},
            "plugins": {"enabled": ["pets", "mall", "leaderboard"]},
            "auth": {"admin_openids": ["mock-boss"]},
        }
        client = await make_client(settings_from(raw))
        admin = bearer((await login(client, "boss"))["token"])
        user = bearer((await login(client, "alice"))["token"])
        product = {"name": "Fish", "type": "virtual_pet_food", "category": "food", "points_cost": 10}
        created = await client.post(
            "/v1/admin/products", json=product | {"item_id": "food.fish"}, headers=admin
        )
        assert created.status == 201, await created.text()
        product_id = (await created.json())["data"]["product_id"]
        assert (await client.get("/v1/mall/products")).status == 200  # now in the page cache

        await redis.set_mode("killed")
        public = [
            "/v1/mall/products",
            "/v1/mall/products?page=2",
            f"/v1/mall/products/{product_id}",
            "/openapi.json",
        ]
        answers: Counter[int] = Counter()
        for path in public:
            response = await client.get(path)
            answers[response.status] += 1
            assert response.status == 200, (path, await response.text())
        listed = await (await client.get("/v1/mall/products")).json()
        assert [item["product_id"] for item in listed["data"]["items"]] == [product_id]
        needs_redis = [
            ("GET", "/v1/users/profile", user),
            ("GET", "/v1/mall/orders", user),
            ("GET", "/v1/leaderboards/user_points", user),
            ("POST", "/v1/auth/wechat_login", None),
        ]
        for method, path, auth in needs_redis:
            body = {"code": "bob"} if path.endswith("login") else None
            response = await client.request(method, path, headers=auth or {}, json=body)
            answers[response.status] += 1
            assert response.status == 503, (path, await response.text())
            assert (await response.json())["code"] == 50301
        unlimited = client.server.app[metrics_key].ratelimit_unlimited._value.get()
        assert unlimited >= len(public)

        await redis.set_mode("pass")
        assert (await client.get("/v1/users/profile", headers=user)).status == 200
        assert (await client.get("/v1/leaderboards/user_points", headers=user)).status == 200
        assert (await client.post("/v1/auth/wechat_login", json={"code": "bob"})).status == 200
    fault_report(
        f"Redis stopped: {len(public)} public reads and {len(needs_redis)} requests needing Redis, "
        f"answers {dict(sorted(answers.items()))}; {unlimited:.0f} public reads served without "
        "their rate limit; Redis back: all 200 without a restart"
    )


async def test_with_fail_open_off_a_public_read_answers_503_while_redis_is_stopped(
    make_client, postgres_url, redis_url, redis_prefix, tmp_path
):
    async with TcpProxy.to_url(redis_url) as redis:
        raw = base_settings(tmp_path) | {
            "database": {"url": postgres_url},
            "cache": {"url": redis.url(redis_url), "prefix": redis_prefix},
            "plugins": {"enabled": ["pets", "mall"]},
            "ratelimit": {"fail_open": False},
        }
        client = await make_client(settings_from(raw))
        await redis.set_mode("killed")
        for path in ("/v1/mall/products", "/openapi.json"):
            response = await client.get(path)
            assert response.status == 503, path
            assert (await response.json())["code"] == 50301
        assert client.server.app[metrics_key].ratelimit_unlimited._value.get() == 0
        await redis.set_mode("pass")
        assert (await client.get("/v1/mall/products")).status == 200
