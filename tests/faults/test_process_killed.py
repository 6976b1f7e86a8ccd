"""A server process killed with SIGKILL after an order committed and before its events were
relayed: nothing is lost, the next process relays them and the subscribers see them.

RabbitMQ is reached through a fault-injecting proxy, stopped while the order is placed, so the
order's events are certainly still in the outbox when the process dies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import asyncpg
import pytest
from fault_servers import server_processes, services_env

from fakes.tcp_proxy import TcpProxy
from support import bearer, eventually

pytestmark = pytest.mark.services

GUARD_SECONDS = 60.0  # a wait that long means a hang: not a speed limit
PENDING = "SELECT name FROM outbox_events WHERE relayed_at IS NULL ORDER BY id"


async def call(session: aiohttp.ClientSession, method: str, url: str, **options: Any) -> tuple[int, Any]:
    async with session.request(method, url, **options) as response:
        return response.status, await response.json()


async def logged_in(session: aiohttp.ClientSession, base: str, code: str) -> tuple[int, dict[str, str]]:
    status, body = await call(session, "POST", f"{base}/v1/auth/wechat_login", json={"code": code})
    assert status == 200, body
    return int(body["data"]["user_info"]["user_id"]), bearer(body["data"]["token"])


async def board_points(
    session: aiohttp.ClientSession, base: str, auth: dict[str, str], user_id: int
) -> int | None:
    """The user's score on the points board, None when not on it."""
    status, body = await call(session, "GET", f"{base}/v1/leaderboards/user_points", headers=auth)
    assert status == 200, body
    for entry in body["data"]["items"]:
        if int(entry["user_id"]) == user_id:
            return int(entry["score"])
    return None


async def test_events_of_an_order_whose_process_was_killed_are_relayed_by_the_next_one(
    migrated_postgres_url, redis_url, redis_prefix, amqp_url, amqp_queues, tmp_path, fault_report
):
    async with TcpProxy.to_url(amqp_url) as broker, aiohttp.ClientSession() as session:
        env = services_env(
            tmp_path, migrated_postgres_url, redis_url, redis_prefix, broker.url(amqp_url), amqp_queues
        )
        env |= {"MENGCHONG__AUTH__ADMIN_OPENIDS": '["mock-boss"]', "MENGCHONG__RATELIMIT__ENABLED": "false"}
        async with server_processes(tmp_path, env, "A") as (first,):
            _, admin = await logged_in(session, first.base, "boss")
            buyer, auth = await logged_in(session, first.base, "buyer")
            product = {"name": "Fish", "type": "virtual_pet_food", "category": "food", "points_cost": 10}
            product |= {"item_id": "food.fish", "stock_quantity": 5}
            status, created = await call(
                session, "POST", f"{first.base}/v1/admin/products", json=product, headers=admin
            )
            assert status == 201, created
            grant = {"delta": 100, "reason": "fault test"}
            status, body = await call(
                session, "POST", f"{first.base}/v1/admin/users/{buyer}/points", json=grant, headers=admin
            )
            assert status == 200, body
            await eventually(lambda: board_points(session, first.base, auth, buyer), timeout=GUARD_SECONDS)
            assert await board_points(session, first.base, auth, buyer) == 100

            await broker.set_mode("killed")
            order = {"product_id": created["data"]["product_id"], "quantity": 1}
            status, body = await call(
                session, "POST", f"{first.base}/v1/mall/orders", json=order, headers=auth
            )
            assert status == 201, body
            database = await asyncpg.connect(migrated_postgres_url)
            try:
                pending = [row["name"] for row in await database.fetch(PENDING)]
                assert "order.created" in pending, pending
                first.process.kill()  # SIGKILL: no shutdown, no last relay
                first.process.wait()
                killed_at = time.monotonic()

                await broker.set_mode("pass")
                async with server_processes(tmp_path, env, "B") as (second,):
                    started = time.monotonic() - killed_at
                    await eventually(
                        lambda: board_points_is(session, second.base, auth, buyer, 90), timeout=GUARD_SECONDS
                    )
                    delivered = time.monotonic() - killed_at
                    await eventually(lambda: nothing_pending(database), timeout=GUARD_SECONDS)
                    await asyncio.sleep(0.5)
                    assert await board_points(session, second.base, auth, buyer) == 90
            finally:
                await database.close()
    fault_report(
        f"order committed with RabbitMQ stopped, {len(pending)} events in the outbox "
        f"({', '.join(sorted(set(pending)))}); process SIGKILLed; the next one served after "
        f"{started:.1f} s and the board showed the order's balance {delivered:.1f} s after the kill"
    )


async def board_points_is(
    session: aiohttp.ClientSession, base: str, auth: dict[str, str], user_id: int, score: int
) -> bool:
    return await board_points(session, base, auth, user_id) == score


async def nothing_pending(database: asyncpg.Connection) -> bool:
    return not await database.fetch(PENDING)
