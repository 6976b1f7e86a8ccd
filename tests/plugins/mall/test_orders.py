"""Placing an order on both profiles: what a successful one changes (points through the ledger,
stock, inventory, the ``order.created`` event, the product list's cache), every refusal changing
nothing, each threshold (quantity, balance, stock, per-user limit) exactly at and one past it,
and the ordered food fed to a pet. Reading orders back is tested in test_admin_orders.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mall_support import (
    FOOD,
    TOY,
    Auth,
    balance_of,
    give_points,
    held,
    insert_product,
    ledger_of,
    order,
    ordered,
)
from mengchong import hookimpl
from mengchong.events import Event, Subscriber
from mengchong.keys import database_key
from mengchong.storage.models import OutboxEvent
from mengchong_plugins.mall.events import OrderCreated
from mengchong_plugins.mall.models import Order, Product
from pets_support import act, adopted
from support import eventually

MISSING = "0" * 32


@dataclass
class OrderSpy:
    """A throwaway plugin subscribing to ``order.created``: it keeps every delivery."""

    name: str = "test.order-spy"
    seen: list[Event] = field(default_factory=list)

    @hookimpl
    def mengchong_subscribers(self, app: Any) -> list[Subscriber]:
        return [Subscriber(self.name, (OrderCreated,), self.handle)]

    async def handle(self, app: Any, event: Event) -> None:
        self.seen.append(event)


@pytest.fixture
def spy() -> OrderSpy:
    return OrderSpy()


@pytest.fixture
def extra_plugins(spy: OrderSpy) -> list[tuple[str, object]]:
    return [("order-spy", spy)]


async def place(client: TestClient, auth: Auth, body: Any) -> tuple[int, dict[str, Any]]:
    """``POST /v1/mall/orders`` with exactly ``body``; the status and the envelope."""
    status, _, envelope = await order(client, auth, body=body)
    return status, envelope


async def snapshot(client: TestClient, user_id: int, product_id: str) -> dict[str, Any]:
    """Everything an order changes: the product's stock, the user's balance, ledger, food held
    and orders, and the ``order.created`` events in the outbox."""
    database = client.server.app[database_key]
    with database.activate():
        stock = (await Product.get(product_id=product_id)).stock_quantity
        orders = await Order.filter(user_id=user_id).count()
        events = await OutboxEvent.filter(name=OrderCreated.NAME).count()
    return {
        "stock": stock,
        "balance": await balance_of(client, user_id),
        "ledger": len(await ledger_of(client, user_id)),
        "held": await held(client, user_id, FOOD),
        "orders": orders,
        "events": events,
    }


def assert_refused(
    status: int, body: dict[str, Any], expected: tuple[int, int], field: str | None = None
) -> None:
    assert (status, body["code"]) == expected, body
    if field is not None:
        assert [error["field"] for error in body["errors"]] == [field], body


# --- A successful order ------------------------------------------------------------------


async def test_an_order_spends_points_takes_stock_grants_items_and_records_the_event(client, alice, bob, spy):
    alice_id, auth = alice
    bob_id, _ = bob
    await give_points(client, alice_id, 100)
    await give_points(client, bob_id, 100)
    product = await insert_product(client, name="Fresh fish", points_cost=10, stock_quantity=5)

    status, body = await place(client, auth, {"product_id": product["product_id"], "quantity": 3})

    assert (status, body["code"], body["message"]) == (201, 0, "Order created successfully"), body
    data = body["data"]
    assert set(data) == {
        "order_id",
        "product_id",
        "product_name",
        "item_id",
        "quantity",
        "points_deducted",
        "remaining_points",
        "status",
        "created_at",
    }
    assert len(data["order_id"]) == 32
    assert (data["product_id"], data["product_name"], data["item_id"]) == (
        product["product_id"],
        "Fresh fish",
        FOOD,
    )
    assert (data["quantity"], data["points_deducted"], data["remaining_points"]) == (3, 30, 70)
    assert data["status"] == "completed"
    assert await balance_of(client, alice_id) == 70
    spent = [entry for entry in await ledger_of(client, alice_id) if entry.delta < 0]
    assert [(e.delta, e.reason, e.ref, e.balance_after) for e in spent] == [
        (-30, "mall.order", data["order_id"], 70)
    ]
    assert await held(client, alice_id, FOOD) == 3
    assert (await snapshot(client, alice_id, product["product_id"]))["stock"] == 2
    # Bob's points and inventory are his own.
    assert (await balance_of(client, bob_id), await held(client, bob_id, FOOD)) == (100, 0)

    await eventually(lambda: len(spy.seen) == 1)
    event = spy.seen[0].data(OrderCreated)
    assert event == OrderCreated(
        user_id=alice_id,
        order_id=data["order_id"],
        product_id=product["product_id"],
        product_name="Fresh fish",
        item_id=FOOD,
        quantity=3,
        points_deducted=30,
        balance=70,
    )


async def test_quantity_defaults_to_one_and_unlimited_stock_stays_unlimited(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 10)
    product = await insert_product(client, item_id=TOY, points_cost=10)
    status, body = await place(client, auth, {"product_id": product["product_id"]})
    assert status == 201, body
    assert (body["data"]["quantity"], body["data"]["remaining_points"]) == (1, 0)
    assert await held(client, alice_id, TOY) == 1
    assert (await snapshot(client, alice_id, product["product_id"]))["stock"] == -1


async def test_an_order_of_limited_stock_shows_in_the_cached_product_list_at_once(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    product = await insert_product(client, stock_quantity=5)

    async def listed_stock() -> int:
        response = await client.get("/v1/mall/products")
        body = await response.json()
        assert response.status == 200, body
        (item,) = [item for item in body["data"]["items"] if item["product_id"] == product["product_id"]]
        return item["stock_quantity"]

    assert await listed_stock() == 5  # now cached
    await ordered(client, auth, product["product_id"], 2)
    assert await listed_stock() == 3


# --- Bad input: 400 naming the field, nothing changed ---------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 11}, "quantity"),  # one past mall.max_order_quantity (10)
        ({"quantity": -1}, "quantity"),
        ({"quantity": "1"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"quantity": 10**30}, "quantity"),
        ({"product_id": None}, "product_id"),  # missing: the product is left out below
        ({"product_id": "ABCDEF" + "0" * 26}, "product_id"),
        ({"product_id": 12}, "product_id"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_body_is_400_naming_the_field_and_changes_nothing(client, alice, body, field):
    alice_id, auth = alice
    await give_points(client, alice_id, 1000)
    product = await insert_product(client, stock_quantity=50)
    sent = {"product_id": product["product_id"], **body}
    if sent["product_id"] is None:
        del sent["product_id"]
    before = await snapshot(client, alice_id, product["product_id"])
    status, answer = await place(client, auth, sent)
    assert_refused(status, answer, (400, 40001), field)
    assert await snapshot(client, alice_id, product["product_id"]) == before


async def test_a_body_that_is_not_an_object_is_400(client, alice):
    _, auth = alice
    status, body = await place(client, auth, [1, 2])
    assert status == 400, body


@pytest.mark.parametrize("off_shelf", [False, True], ids=["unknown", "off-shelf"])
async def test_an_unknown_or_off_shelf_product_is_400_naming_product_id(client, alice, off_shelf):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    shelved = await insert_product(client, stock_quantity=5)
    product = await insert_product(client, stock_quantity=5, on_shelf=False) if off_shelf else None
    product_id = product["product_id"] if product else MISSING
    before = await snapshot(client, alice_id, shelved["product_id"])
    status, body = await place(client, auth, {"product_id": product_id})
    assert_refused(status, body, (400, 40001), "product_id")
    assert await snapshot(client, alice_id, shelved["product_id"]) == before
    if product:
        assert (await snapshot(client, alice_id, product_id))["stock"] == 5


async def test_the_most_units_per_order_is_accepted_one_more_is_not(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 1000)
    product = await insert_product(client, stock_quantity=30)
    assert (await ordered(client, auth, product["product_id"], 10))["quantity"] == 10
    status, body = await place(client, auth, {"product_id": product["product_id"], "quantity": 11})
    assert_refused(status, body, (400, 40001), "quantity")
    assert "10" in body["errors"][0]["message"]


@pytest.mark.parametrize("mall_overrides", [{"max_order_quantity": 3}])
async def test_the_most_units_per_order_comes_from_the_settings(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 1000)
    product = await insert_product(client)
    assert (await ordered(client, auth, product["product_id"], 3))["quantity"] == 3
    status, body = await place(client, auth, {"product_id": product["product_id"], "quantity": 4})
    assert_refused(status, body, (400, 40001), "quantity")


async def test_anonymous_orders_and_reads_are_401(client):
    body = {"product_id": MISSING, "quantity": "bad"}  # who is calling is checked first
    for response in (
        await client.post("/v1/mall/orders", json=body),
        await client.get("/v1/mall/orders"),
        await client.get(f"/v1/mall/orders/{MISSING}"),
    ):
        assert (response.status, (await response.json())["code"]) == (401, 40101)


# --- Refusals of the economy: 422, nothing changed ----------------------------------------


async def test_not_enough_points_is_42201_and_changes_nothing_exactly_enough_goes_through(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    product = await insert_product(client, points_cost=25, stock_quantity=4)
    await give_points(client, alice_id, 49)  # one short of two units
    before = await snapshot(client, alice_id, product["product_id"])
    status, body = await place(client, auth, {"product_id": product["product_id"], "quantity": 2})
    assert_refused(status, body, (422, 42201))
    assert await snapshot(client, alice_id, product["product_id"]) == before

    await give_points(client, bob_id, 50)  # exactly two units
    data = await ordered(client, bob_auth, product["product_id"], 2)
    assert data["remaining_points"] == 0
    assert await balance_of(client, bob_id) == 0
    assert (await snapshot(client, bob_id, product["product_id"]))["stock"] == 2
    assert await balance_of(client, alice_id) == 49


async def test_out_of_stock_is_42202_and_changes_nothing_the_last_units_can_be_ordered(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 1000)
    await give_points(client, bob_id, 1000)
    product = await insert_product(client, stock_quantity=2)
    before = await snapshot(client, alice_id, product["product_id"])
    status, body = await place(client, auth, {"product_id": product["product_id"], "quantity": 3})
    assert_refused(status, body, (422, 42202))
    assert await snapshot(client, alice_id, product["product_id"]) == before

    await ordered(client, bob_auth, product["product_id"], 2)  # exactly the stock
    assert (await snapshot(client, bob_id, product["product_id"]))["stock"] == 0
    before = await snapshot(client, alice_id, product["product_id"])
    status, body = await place(client, auth, {"product_id": product["product_id"], "quantity": 1})
    assert_refused(status, body, (422, 42202))
    assert await snapshot(client, alice_id, product["product_id"]) == before


async def test_the_per_user_limit_is_reached_exactly_and_not_passed(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 1000)
    await give_points(client, bob_id, 1000)
    product = await insert_product(client, per_user_limit=3, stock_quantity=20)
    product_id = product["product_id"]
    await ordered(client, auth, product_id, 2)

    before = await snapshot(client, alice_id, product_id)
    status, body = await place(client, auth, {"product_id": product_id, "quantity": 2})  # 4 > 3
    assert_refused(status, body, (422, 42204), "quantity")
    assert "3" in body["message"]
    assert await snapshot(client, alice_id, product_id) == before

    await ordered(client, auth, product_id, 1)  # exactly 3
    before = await snapshot(client, alice_id, product_id)
    status, body = await place(client, auth, {"product_id": product_id, "quantity": 1})
    assert_refused(status, body, (422, 42204), "quantity")
    assert await snapshot(client, alice_id, product_id) == before

    # The limit is per user: Bob may still order all three.
    await ordered(client, bob_auth, product_id, 3)
    assert await held(client, bob_id, FOOD) == 3
    assert (await snapshot(client, alice_id, product_id))["stock"] == 20 - 6


async def test_another_product_does_not_count_against_the_limit(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 1000)
    limited = await insert_product(client, per_user_limit=1)
    other = await insert_product(client)
    await ordered(client, auth, other["product_id"], 5)
    await ordered(client, auth, limited["product_id"], 1)


# --- What the items are for -----------------------------------------------------------------


async def test_ordered_food_feeds_a_pet(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 10)
    pet = await adopted(client, auth)
    response, body = await act(client, auth, pet["pet_id"], "feeding", FOOD)
    assert (response.status, body["code"]) == (422, 42201), body  # no fish yet
    product = await insert_product(client, item_id=FOOD, points_cost=10)
    await ordered(client, auth, product["product_id"])
    response, body = await act(client, auth, pet["pet_id"], "feeding", FOOD)
    assert response.status == 200, body
    assert await held(client, alice_id, FOOD) == 0
