"""``Idempotency-Key`` on both profiles: a key is one order of its user (sent again, alone or ten
at once, it answers that order with ``Idempotent-Replayed: true`` and charges nothing more), the
same key with another body is 409, keys are per user, a refused order leaves its key unused, and
a malformed key is 400 naming the header."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mall_support import FOOD, Auth, balance_of, give_points, held, insert_product, ledger_of, order
from mengchong.keys import database_key
from mengchong_plugins.mall.models import Order, Product

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


async def place(
    client: TestClient, auth: Auth, product_id: str, quantity: int = 1, key: str | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    return await order(client, auth, product_id, quantity, key=key)


async def orders_of(client: TestClient, user_id: int) -> list[Order]:
    database = client.server.app[database_key]
    with database.activate():
        return await Order.filter(user_id=user_id).order_by("id")


async def spent(client: TestClient, user_id: int) -> list[tuple[int, str | None]]:
    return [(entry.delta, entry.ref) for entry in await ledger_of(client, user_id) if entry.delta < 0]


async def stock_of(client: TestClient, product_id: str) -> int:
    database = client.server.app[database_key]
    with database.activate():
        return (await Product.get(product_id=product_id)).stock_quantity


async def test_the_same_key_again_answers_the_first_order_and_charges_once(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    product = await insert_product(client, stock_quantity=10)
    status, headers, first = await place(client, auth, product["product_id"], 2, "order-1")
    assert status == 201, first
    assert REPLAYED not in headers
    await give_points(client, alice_id, 5)  # the replay shows the balance as it is now

    status, headers, again = await place(client, auth, product["product_id"], 2, "order-1")

    assert (status, headers.get(REPLAYED)) == (201, "true"), again
    assert again["data"] == {**first["data"], "remaining_points": 85}
    assert len(await orders_of(client, alice_id)) == 1
    assert await spent(client, alice_id) == [(-20, first["data"]["order_id"])]
    assert (await balance_of(client, alice_id), await held(client, alice_id, FOOD)) == (85, 2)
    assert await stock_of(client, product["product_id"]) == 8


async def test_ten_simultaneous_requests_with_one_key_are_one_order(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    product = await insert_product(client, stock_quantity=10)
    results = await asyncio.gather(*(place(client, auth, product["product_id"], 3, "tap") for _ in range(10)))
    assert [status for status, _, _ in results] == [201] * 10, [body for _, _, body in results]
    order_ids = {body["data"]["order_id"] for _, _, body in results}
    assert len(order_ids) == 1
    replays = sorted(headers.get(REPLAYED, "") for _, headers, _ in results)
    assert replays == [""] + ["true"] * 9
    assert [order.order_id for order in await orders_of(client, alice_id)] == list(order_ids)
    assert await spent(client, alice_id) == [(-30, order_ids.pop())]
    assert (await balance_of(client, alice_id), await held(client, alice_id, FOOD)) == (70, 3)
    assert await stock_of(client, product["product_id"]) == 7


async def test_ten_simultaneous_requests_with_one_key_that_all_fail_leave_it_unused(client, alice):
    """Each request waits for the one holding the key; when that one rolls back (not enough
    points) the next goes on with the key, and is refused in its turn: never a 5xx."""
    alice_id, auth = alice
    await give_points(client, alice_id, 29)
    product = await insert_product(client, points_cost=30, stock_quantity=10)
    results = await asyncio.gather(
        *(place(client, auth, product["product_id"], 1, "poor") for _ in range(10))
    )
    assert [(status, body["code"]) for status, _, body in results] == [(422, 42201)] * 10
    assert (await orders_of(client, alice_id), await balance_of(client, alice_id)) == ([], 29)
    assert await stock_of(client, product["product_id"]) == 10
    await give_points(client, alice_id, 1)
    status, headers, body = await place(client, auth, product["product_id"], 1, "poor")
    assert (status, headers.get(REPLAYED)) == (201, None), body


@pytest.mark.parametrize("change", ["quantity", "product"])
async def test_the_same_key_with_another_body_is_409_and_changes_nothing(client, alice, change):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    product = await insert_product(client, stock_quantity=10)
    other = await insert_product(client, stock_quantity=10)
    status, _, first = await place(client, auth, product["product_id"], 1, "key-A")
    assert status == 201, first
    if change == "quantity":
        status, headers, body = await place(client, auth, product["product_id"], 2, "key-A")
    else:
        status, headers, body = await place(client, auth, other["product_id"], 1, "key-A")
    assert (status, body["code"]) == (409, 40901), body
    assert [error["field"] for error in body["errors"]] == [HEADER]
    assert REPLAYED not in headers
    assert len(await orders_of(client, alice_id)) == 1
    assert await balance_of(client, alice_id) == 90
    assert (await stock_of(client, product["product_id"]), await stock_of(client, other["product_id"])) == (
        9,
        10,
    )


async def test_keys_are_per_user(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 100)
    await give_points(client, bob_id, 100)
    product = await insert_product(client)
    _, _, hers = await place(client, auth, product["product_id"], 1, "shared")
    status, headers, his = await place(client, bob_auth, product["product_id"], 2, "shared")
    assert status == 201, his
    assert REPLAYED not in headers
    assert his["data"]["order_id"] != hers["data"]["order_id"]
    assert (his["data"]["quantity"], his["data"]["remaining_points"]) == (2, 80)
    assert (await balance_of(client, alice_id), await balance_of(client, bob_id)) == (90, 80)


async def test_orders_without_a_key_are_never_taken_for_a_replay(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    product = await insert_product(client)
    results = [await place(client, auth, product["product_id"]) for _ in range(2)]
    assert [status for status, _, _ in results] == [201, 201]
    assert len({body["data"]["order_id"] for _, _, body in results}) == 2
    assert await balance_of(client, alice_id) == 80


async def test_a_refused_order_leaves_its_key_unused(client, alice):
    alice_id, auth = alice
    product = await insert_product(client, points_cost=30)
    status, _, body = await place(client, auth, product["product_id"], 1, "retry-me")
    assert (status, body["code"]) == (422, 42201), body
    assert await orders_of(client, alice_id) == []
    await give_points(client, alice_id, 30)
    status, headers, body = await place(client, auth, product["product_id"], 1, "retry-me")
    assert status == 201, body
    assert REPLAYED not in headers
    assert body["data"]["remaining_points"] == 0


async def test_a_retry_is_answered_after_the_product_left_the_shelf(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    product = await insert_product(client)
    _, _, first = await place(client, auth, product["product_id"], 1, "before")
    database = client.server.app[database_key]
    with database.activate():
        await Product.filter(product_id=product["product_id"]).update(on_shelf=False)
    status, headers, again = await place(client, auth, product["product_id"], 1, "before")
    assert (status, headers.get(REPLAYED)) == (201, "true"), again
    assert again["data"]["order_id"] == first["data"]["order_id"]
    status, _, body = await place(client, auth, product["product_id"], 1, "after")
    assert (status, [error["field"] for error in body["errors"]]) == (400, ["product_id"]), body
    assert await balance_of(client, alice_id) == 90


@pytest.mark.parametrize("key", ["!", "~", "a" * 64, "Order:2026-06-15/7#x"])
async def test_a_key_of_printable_ascii_up_to_64_is_accepted(client, alice, key):
    alice_id, auth = alice
    await give_points(client, alice_id, 10)
    product = await insert_product(client)
    status, _, body = await place(client, auth, product["product_id"], 1, key)
    assert status == 201, body
    with client.server.app[database_key].activate():
        assert await Order.filter(user_id=alice_id).values_list("idempotency_key", flat=True) == [key]


@pytest.mark.parametrize("key", ["", "a" * 65, "two words", "tab\there", "caf\u00e9"])
async def test_a_malformed_key_is_400_naming_the_header(client, alice, key):
    alice_id, auth = alice
    await give_points(client, alice_id, 10)
    product = await insert_product(client)
    status, _, body = await place(client, auth, product["product_id"], 1, key)
    assert (status, body["code"]) == (400, 40001), body
    assert [error["field"] for error in body["errors"]] == [HEADER]
    assert await orders_of(client, alice_id) == []
    assert await balance_of(client, alice_id) == 10


async def test_the_key_and_the_replay_are_documented(client):
    document = await (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/mall/orders"]["post"]
    parameters = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
    assert parameters[HEADER]["in"] == "header"
    assert "201" in operation["responses"]
    assert REPLAYED in operation["description"]
