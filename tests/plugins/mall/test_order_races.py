"""Orders racing on both profiles, forced with ``asyncio.gather``: many users after a small stock
(never oversold), one user after more than they can pay for (never overspent), one user after a
per-user limit (never passed). Every loser is a clean 422 (never a 5xx), and afterwards every
ledger sums to its balance, no balance is negative and the inventory holds what was sold."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiohttp.test_utils import TestClient

from mall_support import FOOD, Auth, balance_of, give_points, held, insert_product, ledger_of, order
from mengchong.accounts.models import User
from mengchong.keys import database_key, tokens_key
from mengchong.storage.models import OutboxEvent
from mengchong_plugins.mall.events import OrderCreated
from mengchong_plugins.mall.models import Order, Product
from support import bearer


async def place(
    client: TestClient, auth: Auth, product_id: str, quantity: int = 1
) -> tuple[int, dict[str, Any]]:
    status, _, envelope = await order(client, auth, product_id, quantity)
    return status, envelope


async def shoppers(client: TestClient, count: int, points: int) -> list[tuple[int, Auth]]:
    """``count`` users with ``points`` each and a token of theirs. Made in the database rather
    than through the login route, whose per-IP limit (30 a minute) a test can't get past."""
    app = client.server.app
    database = app[database_key]
    made = []
    with database.activate():
        for n in range(count):
            user = await User.create(openid=f"mock-shopper-{n}")
            token, _ = app[tokens_key].issue(user.id, user.token_version)
            made.append((user.id, bearer(token)))
    for user_id, _ in made:
        await give_points(client, user_id, points)
    return made


async def assert_books_balance(client: TestClient, user_ids: list[int]) -> None:
    """Every user's ledger sums to their balance, and no balance is negative."""
    for user_id in user_ids:
        balance = await balance_of(client, user_id)
        assert balance >= 0
        assert sum(entry.delta for entry in await ledger_of(client, user_id)) == balance


async def counts(client: TestClient, product_id: str) -> tuple[int, int, int]:
    """The product's stock, its orders and the ``order.created`` events recorded."""
    database = client.server.app[database_key]
    with database.activate():
        stock = (await Product.get(product_id=product_id)).stock_quantity
        orders = await Order.filter(product_id=product_id).count()
        events = await OutboxEvent.filter(name=OrderCreated.NAME).count()
    return stock, orders, events


async def test_two_hundred_orders_for_a_stock_of_ten_sell_exactly_ten(client):
    users = await shoppers(client, 40, 100)
    product = await insert_product(client, points_cost=20, stock_quantity=10)
    attempts = [auth for _, auth in users for _ in range(5)]

    results = await asyncio.gather(*(place(client, auth, product["product_id"]) for auth in attempts))

    outcomes = Counter((status, body["code"]) for status, body in results)
    assert outcomes == {(201, 0): 10, (422, 42202): 190}, outcomes
    assert await counts(client, product["product_id"]) == (0, 10, 10)
    user_ids = [user_id for user_id, _ in users]
    await assert_books_balance(client, user_ids)
    bought = [await held(client, user_id, FOOD) for user_id in user_ids]
    spent = [100 - await balance_of(client, user_id) for user_id in user_ids]
    assert sum(bought) == 10
    assert spent == [20 * units for units in bought]


async def test_twenty_five_orders_of_one_user_who_can_pay_for_three(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 3 * 30)
    await give_points(client, bob_id, 30)
    product = await insert_product(client, points_cost=30, stock_quantity=100)

    alices = [place(client, auth, product["product_id"]) for _ in range(25)]
    results = await asyncio.gather(*alices, place(client, bob_auth, product["product_id"]))

    outcomes = Counter((status, body["code"]) for status, body in results[:-1])
    assert outcomes == {(201, 0): 3, (422, 42201): 22}, outcomes
    assert results[-1][0] == 201, results[-1]  # Bob's order, racing hers, is his own affair
    assert sorted(body["data"]["remaining_points"] for status, body in results[:-1] if status == 201) == [
        0,
        30,
        60,
    ]
    assert (await balance_of(client, alice_id), await held(client, alice_id, FOOD)) == (0, 3)
    assert (await balance_of(client, bob_id), await held(client, bob_id, FOOD)) == (0, 1)
    assert await counts(client, product["product_id"]) == (100 - 4, 4, 4)
    await assert_books_balance(client, [alice_id, bob_id])


async def test_simultaneous_orders_stop_exactly_at_the_per_user_limit(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 1000)
    await give_points(client, bob_id, 1000)
    product = await insert_product(client, points_cost=10, per_user_limit=3, stock_quantity=50)

    alices = [place(client, auth, product["product_id"]) for _ in range(12)]
    bobs = [place(client, bob_auth, product["product_id"], 2) for _ in range(4)]
    results = await asyncio.gather(*alices, *bobs)

    outcomes = Counter((status, body["code"]) for status, body in results[:12])
    assert outcomes == {(201, 0): 3, (422, 42204): 9}, outcomes
    # Two units at a time, Bob gets one order of two: a second would make four.
    outcomes = Counter((status, body["code"]) for status, body in results[12:])
    assert outcomes == {(201, 0): 1, (422, 42204): 3}, outcomes
    assert (await held(client, alice_id, FOOD), await held(client, bob_id, FOOD)) == (3, 2)
    assert await counts(client, product["product_id"]) == (50 - 5, 4, 4)
    assert (await balance_of(client, alice_id), await balance_of(client, bob_id)) == (970, 980)
    await assert_books_balance(client, [alice_id, bob_id])


async def test_orders_of_several_products_by_one_user_at_once_all_go_through(client, alice):
    """Orders of one user lock the user's row, then the product's: never each other's (no
    deadlock, no 5xx) whichever products they take."""
    alice_id, auth = alice
    await give_points(client, alice_id, 10 * 30)
    products = [
        await insert_product(client, stock_quantity=10, per_user_limit=limit) for limit in (None, 5, None)
    ]
    results = await asyncio.gather(
        *(place(client, auth, product["product_id"]) for _ in range(10) for product in products)
    )
    outcomes = Counter((status, body["code"]) for status, body in results)
    assert outcomes == {(201, 0): 25, (422, 42204): 5}, outcomes
    assert await balance_of(client, alice_id) == 300 - 25 * 10
    assert await held(client, alice_id, FOOD) == 25
    await assert_books_balance(client, [alice_id])
