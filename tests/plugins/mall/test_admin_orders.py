"""Reading orders back on both profiles. The caller's own: their list (only theirs, newest first,
by page, by status) and one order (someone else's is a 404 like an unknown one). The admins' list
of every order: each with its user, filtered by user, product and status (alone and together),
by page; 403 for a user who is not an admin. 401 without a token, 400 naming a bad parameter."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mall_support import TOY, Auth, give_points, insert_product, ordered

MISSING = "0" * 32


async def admin_list(client: TestClient, auth: Auth, query: str = "") -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/v1/admin/orders{query}", headers=auth)
    return response.status, await response.json()


async def listed(client: TestClient, auth: Auth, query: str = "") -> list[tuple[str, str]]:
    """The (user_id, order_id) of every order on the page."""
    status, body = await admin_list(client, auth, query)
    assert status == 200, body
    return [(item["user_id"], item["order_id"]) for item in body["data"]["items"]]


# --- The caller's own orders -----------------------------------------------------------------


async def list_page(client: TestClient, auth: Auth, query: str = "") -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/v1/mall/orders{query}", headers=auth)
    return response.status, await response.json()


async def test_the_list_shows_the_callers_own_orders_newest_first_by_page(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 1000)
    await give_points(client, bob_id, 1000)
    product = await insert_product(client, name="Fish")
    toy = await insert_product(client, name="Ball", item_id=TOY)
    mine = [
        await ordered(client, auth, product["product_id"], 1),
        await ordered(client, auth, toy["product_id"], 2),
        await ordered(client, auth, product["product_id"], 3),
    ]
    bobs = await ordered(client, bob_auth, product["product_id"], 1)

    status, body = await list_page(client, auth)
    assert status == 200, body
    data = body["data"]
    newest_first = [order["order_id"] for order in reversed(mine)]
    assert [order["order_id"] for order in data["items"]] == newest_first
    assert (data["total"], data["page"], data["limit"], data["totalPages"]) == (3, 1, 10, 1)
    newest = data["items"][0]
    assert newest == {key: value for key, value in mine[2].items() if key != "remaining_points"}

    status, body = await list_page(client, auth, "?page=2&limit=2")
    assert status == 200, body
    assert [order["order_id"] for order in body["data"]["items"]] == newest_first[2:]
    assert (body["data"]["total"], body["data"]["totalPages"]) == (3, 2)
    status, body = await list_page(client, auth, "?page=3&limit=2")
    assert (body["data"]["items"], body["data"]["total"]) == ([], 3)

    status, body = await list_page(client, auth, "?status=completed&limit=1")
    assert [order["order_id"] for order in body["data"]["items"]] == newest_first[:1]
    status, body = await list_page(client, bob_auth)
    assert [order["order_id"] for order in body["data"]["items"]] == [bobs["order_id"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=cancelled", "status"),
        ("?user_id=1", "user_id"),
        ("?limit=101", "limit"),
        ("?page=0", "page"),
    ],
)
async def test_a_bad_list_parameter_is_400_naming_it(client, alice, query, field):
    _, auth = alice
    status, body = await list_page(client, auth, query)
    assert (status, body["code"]) == (400, 40001), body
    assert [error["field"] for error in body["errors"]] == [field]


async def test_an_order_is_read_by_its_owner_only(client, alice, bob):
    alice_id, auth = alice
    _, bob_auth = bob
    await give_points(client, alice_id, 100)
    product = await insert_product(client)
    order = await ordered(client, auth, product["product_id"], 2)

    response = await client.get(f"/v1/mall/orders/{order['order_id']}", headers=auth)
    body = await response.json()
    assert response.status == 200, body
    assert body["data"] == {key: value for key, value in order.items() if key != "remaining_points"}

    # Bob gets what an unknown order gets: nothing tells him the order exists.
    theirs = await client.get(f"/v1/mall/orders/{order['order_id']}", headers=bob_auth)
    unknown = await client.get(f"/v1/mall/orders/{MISSING}", headers=bob_auth)
    theirs_body, unknown_body = await theirs.json(), await unknown.json()
    assert (theirs.status, theirs_body["code"]) == (404, 40401)
    assert theirs_body == unknown_body

    malformed = await client.get("/v1/mall/orders/not-an-id", headers=auth)
    body = await malformed.json()
    assert (malformed.status, body["code"], [error["field"] for error in body["errors"]]) == (
        400,
        40001,
        ["order_id"],
    )


# --- The admins' list of every order -------------------------------------------------------


@pytest.fixture
async def orders(client, alice, bob) -> dict[str, Any]:
    """Four orders, oldest first: Alice's fish, Bob's fish, Alice's ball, Bob's ball (two)."""
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 100)
    await give_points(client, bob_id, 100)
    fish = await insert_product(client, name="Fish")
    ball = await insert_product(client, name="Ball", item_id=TOY)
    made = [
        (str(alice_id), await ordered(client, alice_auth, fish["product_id"])),
        (str(bob_id), await ordered(client, bob_auth, fish["product_id"])),
        (str(alice_id), await ordered(client, alice_auth, ball["product_id"])),
        (str(bob_id), await ordered(client, bob_auth, ball["product_id"], 2)),
    ]
    return {
        "alice": str(alice_id),
        "bob": str(bob_id),
        "fish": fish["product_id"],
        "ball": ball["product_id"],
        "newest_first": [(user_id, order["order_id"]) for user_id, order in reversed(made)],
        "orders": {order["order_id"]: order for _, order in made},
    }


async def test_an_admin_sees_every_users_orders_newest_first_with_their_user(client, admin, orders):
    _, auth = admin
    status, body = await admin_list(client, auth)
    assert status == 200, body
    data = body["data"]
    assert [(item["user_id"], item["order_id"]) for item in data["items"]] == orders["newest_first"]
    assert (data["total"], data["page"], data["limit"], data["totalPages"]) == (4, 1, 10, 1)
    for item in data["items"]:
        placed_view = orders["orders"][item["order_id"]]
        assert {key: value for key, value in item.items() if key != "user_id"} == {
            key: value for key, value in placed_view.items() if key != "remaining_points"
        }

    assert await listed(client, auth, "?limit=3&page=2") == orders["newest_first"][3:]
    status, body = await admin_list(client, auth, "?limit=3&page=2")
    assert (body["data"]["total"], body["data"]["totalPages"]) == (4, 2)


async def test_the_filters_narrow_the_list_alone_and_together(client, admin, orders):
    _, auth = admin
    newest = orders["newest_first"]
    alice, bob, fish, ball = orders["alice"], orders["bob"], orders["fish"], orders["ball"]
    by_product = {order_id: order["product_id"] for order_id, order in orders["orders"].items()}

    assert await listed(client, auth, f"?user_id={alice}") == [pair for pair in newest if pair[0] == alice]
    assert await listed(client, auth, f"?user_id={bob}") == [pair for pair in newest if pair[0] == bob]
    assert await listed(client, auth, f"?product_id={fish}") == [
        p for p in newest if by_product[p[1]] == fish
    ]
    assert await listed(client, auth, f"?user_id={bob}&product_id={ball}") == [
        pair for pair in newest if pair[0] == bob and by_product[pair[1]] == ball
    ]
    assert await listed(client, auth, "?status=completed") == newest
    assert await listed(client, auth, f"?product_id={MISSING}") == []
    assert await listed(client, auth, "?user_id=999999999") == []


async def test_a_user_who_is_not_an_admin_is_403_and_anonymous_is_401(client, alice, orders):
    _, auth = alice
    status, body = await admin_list(client, auth)
    assert (status, body["code"]) == (403, 40301), body
    assert "data" not in body
    response = await client.get("/v1/admin/orders")
    assert (response.status, (await response.json())["code"]) == (401, 40101)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?user_id=abc", "user_id"),
        ("?user_id=0", "user_id"),
        ("?product_id=xyz", "product_id"),
        (f"?product_id={'A' * 32}", "product_id"),
        ("?status=cancelled", "status"),
        ("?limit=0", "limit"),
        ("?sort=asc", "sort"),
    ],
)
async def test_a_bad_filter_is_400_naming_it(client, admin, query, field):
    _, auth = admin
    status, body = await admin_list(client, auth, query)
    assert (status, body["code"]) == (400, 40001), body
    assert [error["field"] for error in body["errors"]] == [field]
