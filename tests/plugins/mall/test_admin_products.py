"""The admins' product API on both profiles: who may call it (401 anonymous, 403 a user), creating a
product (201, defaults, every field's bound exactly at it accepted and one past it refused, an item
not in the catalog, a sku used twice, even at once), changing any part of one (PUT), the list of
every product, and the admin log: a row with the admin's id in the write's transaction, and a log
line."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mall_support import FOOD, TOY, Auth, insert_product
from mengchong.http.conventions import is_hex_id
from mengchong.keys import database_key
from mengchong_plugins.mall.models import AdminLog, Product
from mengchong_plugins.mall.schemas_catalog import (
    PER_USER_LIMIT_MAX,
    POINTS_COST_MAX,
    SORT_ORDER_BOUND,
    STOCK_MAX,
)

MISSING = "0" * 32
BODY = {"name": "Fish", "type": "virtual_pet_food", "category": "food", "points_cost": 10, "item_id": FOOD}
"""The required fields of a new product."""
URL = "https://img.example/"


async def create(client: TestClient, auth: Auth, **fields: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post("/v1/admin/products", json={**BODY, **fields}, headers=auth)
    return response.status, await response.json()


async def created(client: TestClient, auth: Auth, **fields: Any) -> dict[str, Any]:
    status, body = await create(client, auth, **fields)
    assert (status, body["code"]) == (201, 0), body
    return body["data"]


async def put(client: TestClient, auth: Auth, product_id: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.put(f"/v1/admin/products/{product_id}", json=body, headers=auth)
    return response.status, await response.json()


async def admin_list(client: TestClient, auth: Auth, query: str = "") -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/v1/admin/products{'?' if query else ''}{query}", headers=auth)
    return response.status, await response.json()


def fields_of(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors", [])}


async def product_count(client: TestClient) -> int:
    database = client.server.app[database_key]
    with database.activate():
        return await Product.all().count()


async def log_rows(client: TestClient) -> list[AdminLog]:
    database = client.server.app[database_key]
    with database.activate():
        return await AdminLog.all().order_by("id")


# --- Who may call -------------------------------------------------------------------------------


async def test_anonymous_callers_are_401_and_users_403(client, alice, bob):
    product = await insert_product(client)
    calls = [
        ("POST", "/v1/admin/products", BODY),
        ("PUT", f"/v1/admin/products/{product['product_id']}", {"points_cost": 1}),
        ("GET", "/v1/admin/products", None),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body)
        assert (response.status, (await response.json())["code"]) == (401, 40101), path
        for _, auth in (alice, bob):
            response = await client.request(method, path, json=body, headers=auth)
            assert (response.status, (await response.json())["code"]) == (403, 40301), path
    assert await product_count(client) == 1
    assert await log_rows(client) == []


# --- Creating ---------------------------------------------------------------------------------


async def test_create_answers_201_with_the_product_and_its_defaults(client, admin):
    _, auth = admin
    data = await created(client, auth)
    assert is_hex_id(data["product_id"])
    expected = {
        **BODY,
        "description": "",
        "image_url": "",
        "stock_quantity": -1,
        "on_shelf": True,
        "per_user_limit": None,
        "sort_order": 0,
        "sku": None,
    }
    assert {key: data[key] for key in expected} == expected
    assert data["created_at"] == data["updated_at"]
    datetime.fromisoformat(data["created_at"])

    response = await client.get(f"/v1/mall/products/{data['product_id']}")
    assert (await response.json())["data"] == data


async def test_create_with_every_field(client, admin):
    _, auth = admin
    every = {
        "description": "A fresh fish",
        "image_url": f"{URL}fish.png",
        "stock_quantity": 12,
        "on_shelf": False,
        "per_user_limit": 2,
        "sort_order": -4,
        "sku": "fish.v1",
        "type": "virtual_pet_toy",
        "category": "toy",
        "item_id": TOY,
    }
    data = await created(client, auth, **every)
    assert {key: data[key] for key in every} == every
    response = await client.get(f"/v1/mall/products/{data['product_id']}")
    assert response.status == 404  # off the shelf


# (field, values accepted exactly at a bound, values refused one past it or otherwise wrong)
BOUNDS: list[tuple[str, list[Any], list[Any]]] = [
    ("name", ["x", "名" * 64], ["", "   ", "x" * 65, None, 7, "a\tb", "a\u202eb"]),
    ("description", ["", "d" * 500], ["d" * 501, None, "nul\x00"]),
    (
        "image_url",
        ["", URL + "i" * (500 - len(URL)), "http://a"],
        [
            URL + "i" * (501 - len(URL)),
            "ftp://img.example/a",
            "img.example/a.png",
            "https://",
            "https://a b",
            "http://a:99999",
        ],
    ),
    ("type", ["t", "t" * 32], ["", "t" * 33, " "]),
    ("category", ["c", "c" * 32], ["", "c" * 33]),
    ("points_cost", [1, POINTS_COST_MAX], [0, -1, POINTS_COST_MAX + 1, "10", 1.5, True, None]),
    ("stock_quantity", [-1, 0, STOCK_MAX], [-2, STOCK_MAX + 1, "5", 2.5, None]),
    ("per_user_limit", [None, 1, PER_USER_LIMIT_MAX], [0, -1, PER_USER_LIMIT_MAX + 1, "1"]),
    (
        "sort_order",
        [-SORT_ORDER_BOUND, 0, SORT_ORDER_BOUND],
        [-SORT_ORDER_BOUND - 1, SORT_ORDER_BOUND + 1, "1"],
    ),
    ("on_shelf", [True, False], ["true", 1, 0, None]),
    ("sku", [None, "s", "S" * 64, "a-b_c.d:1"], ["", "s" * 65, "has space", "ü"]),
    ("item_id", [FOOD, "checkin.makeup_card"], ["food.nope", "", None, "i" * 65]),
]


@pytest.mark.parametrize(("field", "accepted", "refused"), BOUNDS, ids=[bound[0] for bound in BOUNDS])
async def test_each_field_is_accepted_at_its_bounds_and_refused_past_them(
    client, admin, field, accepted, refused
):
    _, auth = admin
    for value in refused:
        status, body = await create(client, auth, **{field: value})
        assert (status, body["code"]) == (400, 40001), (value, body)
        assert fields_of(body) == {field}, (value, body)
    assert await product_count(client) == 0
    for value in accepted:
        data = await created(client, auth, **{field: value})
        assert data[field] == value
    assert await product_count(client) == len(accepted)


async def test_an_item_not_in_the_item_catalog_is_400_naming_item_id(client, admin):
    _, auth = admin
    status, body = await create(client, auth, item_id="food.caviar")
    assert (status, body["code"]) == (400, 40001), body
    assert fields_of(body) == {"item_id"}
    assert "food.caviar" in body["errors"][0]["message"]
    assert await product_count(client) == 0


@pytest.mark.parametrize("missing", sorted(BODY))
async def test_a_required_field_missing_is_400_naming_it(client, admin, missing):
    _, auth = admin
    body = {key: value for key, value in BODY.items() if key != missing}
    response = await client.post("/v1/admin/products", json=body, headers=auth)
    answer = await response.json()
    assert (response.status, fields_of(answer)) == (400, {missing}), answer


async def test_an_unknown_field_is_400_naming_it(client, admin):
    _, auth = admin
    status, body = await create(client, auth, colour="red")
    assert (status, fields_of(body)) == (400, {"colour"}), body
    assert await product_count(client) == 0


async def test_a_sku_used_twice_is_409(client, admin):
    _, auth = admin
    first = await created(client, auth, sku="fish")
    status, body = await create(client, auth, sku="fish", name="Other fish")
    assert (status, body["code"]) == (409, 40901), body
    assert fields_of(body) == {"sku"}
    assert await product_count(client) == 1
    # Products without a sku don't clash.
    await created(client, auth)
    await created(client, auth)
    # Nor does a product keeping its own sku; taking another's does.
    other = await created(client, auth, sku="ball")
    assert (await put(client, auth, first["product_id"], {"sku": "fish", "name": "Same"}))[0] == 200
    status, body = await put(client, auth, other["product_id"], {"sku": "fish"})
    assert (status, body["code"], fields_of(body)) == (409, 40901, {"sku"}), body
    assert [row.action for row in await log_rows(client)] == ["product.create"] * 4 + ["product.update"]


async def test_simultaneous_creates_with_one_sku_make_one_product(client, admin):
    _, auth = admin
    results = await asyncio.gather(*(create(client, auth, sku="race", name=f"N{n}") for n in range(12)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 11, results
    assert await product_count(client) == 1
    assert len(await log_rows(client)) == 1


# --- Changing ---------------------------------------------------------------------------------


async def test_put_changes_only_the_fields_given(client, admin):
    _, auth = admin
    product = await created(client, auth, description="Fresh", sku="fish", per_user_limit=4)
    status, body = await put(client, auth, product["product_id"], {"points_cost": 15, "per_user_limit": None})
    assert (status, body["code"]) == (200, 0), body
    data = body["data"]
    assert data == {
        **product,
        "points_cost": 15,
        "per_user_limit": None,
        "updated_at": data["updated_at"],
    }
    assert datetime.fromisoformat(data["updated_at"]) > datetime.fromisoformat(product["updated_at"])
    response = await client.get(f"/v1/mall/products/{product['product_id']}")
    assert (await response.json())["data"] == data


async def test_put_validates_like_create(client, admin):
    _, auth = admin
    product = await created(client, auth)
    pid = product["product_id"]
    cases = [
        ({}, "body"),
        ({"points_cost": 0}, "points_cost"),
        ({"points_cost": POINTS_COST_MAX + 1}, "points_cost"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"stock_quantity": -2}, "stock_quantity"),
        ({"colour": "red"}, "colour"),
        ({"item_id": "food.caviar"}, "item_id"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
    ]
    for body, field in cases:
        status, answer = await put(client, auth, pid, body)
        assert (status, answer["code"], fields_of(answer)) == (400, 40001, {field}), (body, answer)
    response = await client.put(
        f"/v1/admin/products/{pid}", data=b"[1]", headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status == 400
    response = await client.get(f"/v1/mall/products/{pid}")
    assert (await response.json())["data"] == product
    assert len(await log_rows(client)) == 1


async def test_put_of_an_unknown_product_is_404_and_of_a_malformed_id_400(client, admin):
    _, auth = admin
    await created(client, auth)
    status, body = await put(client, auth, MISSING, {"points_cost": 3})
    assert (status, body["code"]) == (404, 40401), body
    status, body = await put(client, auth, "XYZ", {"points_cost": 3})
    assert (status, fields_of(body)) == (400, {"product_id"}), body
    assert len(await log_rows(client)) == 1


# --- The admin log ----------------------------------------------------------------------------


async def test_every_write_is_logged_with_the_admin_s_id(client, admin, alice, caplog):
    admin_id, auth = admin
    alice_id, _ = alice
    caplog.set_level(logging.INFO, logger="mengchong.mall")
    product = await created(client, auth, sku="fish")
    await put(client, auth, product["product_id"], {"points_cost": 20, "on_shelf": False})

    create_row, update_row = await log_rows(client)
    assert (create_row.admin_id, create_row.action, create_row.product_id) == (
        admin_id,
        "product.create",
        product["product_id"],
    )
    assert create_row.changes == {
        **BODY,
        "sku": "fish",
        "description": "",
        "image_url": "",
        "stock_quantity": -1,
        "on_shelf": True,
        "per_user_limit": None,
        "sort_order": 0,
    }
    assert (update_row.admin_id, update_row.action, update_row.product_id) == (
        admin_id,
        "product.update",
        product["product_id"],
    )
    assert update_row.changes == {"points_cost": 20, "on_shelf": False}
    assert admin_id != alice_id
    assert create_row.created_at <= update_row.created_at

    lines = [record for record in caplog.records if record.name == "mengchong.mall"]
    assert [(line.admin_id, line.action, line.product_id) for line in lines] == [
        (admin_id, "product.create", product["product_id"]),
        (admin_id, "product.update", product["product_id"]),
    ]
    assert lines[1].fields == ["on_shelf", "points_cost"]


# --- The admin list ---------------------------------------------------------------------------


async def test_the_admin_list_has_every_product_filtered_and_paginated(client, admin):
    _, auth = admin
    for number in range(4):
        await insert_product(client, name=f"On{number}", sort_order=number)
    await insert_product(client, name="Off", on_shelf=False, sort_order=10)
    await insert_product(
        client, name="Toy", category="toy", type="virtual_pet_toy", item_id=TOY, sort_order=20
    )

    status, body = await admin_list(client, auth)
    assert status == 200, body
    data = body["data"]
    assert [item["name"] for item in data["items"]] == ["On0", "On1", "On2", "On3", "Off", "Toy"]
    assert (data["items"][4]["on_shelf"], data["items"][4]["sku"]) == (False, None)
    checks = {
        "on_shelf=false": ["Off"],
        "on_shelf=true&category=toy": ["Toy"],
        "type=virtual_pet_food&on_shelf=true": ["On0", "On1", "On2", "On3"],
        "limit=4&page=2": ["Off", "Toy"],
    }
    for query, expected in checks.items():
        status, body = await admin_list(client, auth, query)
        assert [item["name"] for item in body["data"]["items"]] == expected, query
    assert (body["data"]["total"], body["data"]["totalPages"]) == (6, 2)
    for query, field in (("on_shelf=maybe", "on_shelf"), ("limit=101", "limit"), ("sku=x", "sku")):
        status, body = await admin_list(client, auth, query)
        assert (status, fields_of(body)) == (400, {field}), query


async def test_the_admin_list_is_never_cached(client, admin):
    _, auth = admin
    product = await insert_product(client, name="Fish")
    assert [item["name"] for item in (await admin_list(client, auth))[1]["data"]["items"]] == ["Fish"]
    database = client.server.app[database_key]
    with database.activate():
        await Product.filter(product_id=product["product_id"]).update(name="Changed")
    assert [item["name"] for item in (await admin_list(client, auth))[1]["data"]["items"]] == ["Changed"]
