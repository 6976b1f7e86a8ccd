"""The item routes on both runtime profiles: ``GET /v1/items`` (the catalog of the enabled plugins)
and ``GET /v1/users/inventory`` (what the caller holds, named from the catalog), whole or of one
type; both need a token and refuse a query parameter they don't know with a 400 naming it."""

from __future__ import annotations

from typing import Any

import pytest

from mengchong import hookimpl
from mengchong.economy.inventory import consume_items, grant_items
from mengchong.economy.items import Item
from mengchong.economy.models import InventoryItem
from mengchong.keys import database_key, item_catalog_key
from support import bearer, login, settings_from

PETS_CATALOG = [
    {"item_id": "food.kibble", "type": "food", "name": "宠物粮", "description": "日常主食，管饱"},
    {
        "item_id": "food.fish",
        "type": "food",
        "name": "小鱼干",
        "description": "香喷喷的小鱼干，爱吃鱼的宠物最喜欢",
    },
    {
        "item_id": "food.cake",
        "type": "food",
        "name": "宠物蛋糕",
        "description": "甜甜的蛋糕，心情大好，就是会吃得脏兮兮",
    },
    {"item_id": "toy.ball", "type": "toy", "name": "小皮球", "description": "一起玩球，活力满满"},
    {"item_id": "toy.feather", "type": "toy", "name": "逗猫羽毛棒", "description": "晃一晃羽毛棒，追个不停"},
]


class Cards:
    """A throwaway plugin adding one item to the catalog."""

    @hookimpl
    def mengchong_items(self) -> list[Item]:
        return [Item("card.makeup", "card", "补签卡")]


@pytest.fixture
def settings(profile) -> Any:
    return settings_from(profile, plugins={"enabled": ["pets"]})


@pytest.fixture
async def client(make_client, settings):
    return await make_client(settings, [("cards", Cards())])


async def user_of(client, code: str) -> tuple[int, dict[str, str]]:
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def get(client, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = await client.get(path, headers=headers)
    return response.status, await response.json()


async def grant(client, user_id: int, item_id: str, quantity: int) -> None:
    app = client.server.app
    database = app[database_key]
    with database.activate():
        async with database.transaction() as connection:
            await grant_items(connection, app[item_catalog_key], user_id, item_id, quantity)


# --- the catalog ----------------------------------------------------------------------------


async def test_the_catalog_lists_every_enabled_plugins_items_in_order(client):
    _, alice = await user_of(client, "alice")
    status, body = await get(client, "/v1/items", alice)
    assert (status, body["code"]) == (200, 0), body
    card = {"item_id": "card.makeup", "type": "card", "name": "补签卡", "description": ""}
    assert body["data"] == {"items": [*PETS_CATALOG, card]}


@pytest.mark.parametrize(
    ("item_type", "ids"),
    [
        ("food", ["food.kibble", "food.fish", "food.cake"]),
        ("toy", ["toy.ball", "toy.feather"]),
        ("card", ["card.makeup"]),
    ],
)
async def test_the_catalog_of_one_type(client, item_type, ids):
    _, alice = await user_of(client, "alice")
    status, body = await get(client, f"/v1/items?type={item_type}", alice)
    assert status == 200, body
    assert [item["item_id"] for item in body["data"]["items"]] == ids
    assert {item["type"] for item in body["data"]["items"]} == {item_type}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?type=hat", "type"),
        ("?type=", "type"),
        ("?type=FOOD", "type"),
        ("?type=" + "t" * 33, "type"),
        ("?color=red", "color"),
        ("?type=food&page=1", "page"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/items", "/v1/users/inventory"])
async def test_a_bad_or_unknown_query_parameter_is_a_400_naming_it(client, path, query, field):
    _, alice = await user_of(client, "alice")
    status, body = await get(client, f"{path}{query}", alice)
    assert (status, body["code"]) == (400, 40001), body
    assert [error["field"] for error in body["errors"]] == [field]
    assert "data" not in body


@pytest.mark.parametrize("path", ["/v1/items", "/v1/users/inventory"])
async def test_an_unknown_type_names_the_known_ones(client, path):
    _, alice = await user_of(client, "alice")
    status, body = await get(client, f"{path}?type=hat", alice)
    assert status == 400
    assert body["errors"] == [
        {"field": "type", "message": "unknown item type 'hat' (known: food, toy, card)"}
    ]


# --- the inventory --------------------------------------------------------------------------


async def test_the_inventory_lists_what_the_caller_holds_named_from_the_catalog(client):
    alice_id, alice = await user_of(client, "alice")
    bob_id, bob = await user_of(client, "bob")
    status, body = await get(client, "/v1/users/inventory", alice)
    assert (status, body["code"], body["data"]) == (200, 0, {"items": []})

    # Granted out of catalog order, and with ids that sort otherwise (food.cake < food.kibble).
    await grant(client, alice_id, "card.makeup", 1)
    await grant(client, alice_id, "food.cake", 2)
    await grant(client, alice_id, "food.kibble", 3)
    await grant(client, bob_id, "food.kibble", 9)
    await grant(client, bob_id, "toy.ball", 1)

    status, body = await get(client, "/v1/users/inventory", alice)
    assert status == 200, body
    assert body["data"]["items"] == [
        {"item_id": "food.kibble", "name": "宠物粮", "type": "food", "quantity": 3},
        {"item_id": "food.cake", "name": "宠物蛋糕", "type": "food", "quantity": 2},
        {"item_id": "card.makeup", "name": "补签卡", "type": "card", "quantity": 1},
    ]
    status, body = await get(client, "/v1/users/inventory", bob)
    assert [(item["item_id"], item["quantity"]) for item in body["data"]["items"]] == [
        ("food.kibble", 9),
        ("toy.ball", 1),
    ]


async def test_an_item_used_up_is_not_listed(client):
    alice_id, alice = await user_of(client, "alice")
    await grant(client, alice_id, "toy.ball", 1)
    await grant(client, alice_id, "food.fish", 2)
    database = client.server.app[database_key]
    with database.activate():
        async with database.transaction() as connection:
            await consume_items(connection, alice_id, "toy.ball", 1)
    status, body = await get(client, "/v1/users/inventory", alice)
    assert status == 200, body
    assert [(item["item_id"], item["quantity"]) for item in body["data"]["items"]] == [("food.fish", 2)]


async def test_an_item_of_a_plugin_since_disabled_is_kept_but_not_listed(client, make_client, settings):
    alice_id, alice = await user_of(client, "alice")
    await grant(client, alice_id, "card.makeup", 2)
    await grant(client, alice_id, "toy.ball", 1)

    without_cards = await make_client(settings)  # the same storage, the cards plugin gone
    status, body = await get(without_cards, "/v1/users/inventory", alice)
    assert status == 200, body
    assert [(item["item_id"], item["quantity"]) for item in body["data"]["items"]] == [("toy.ball", 1)]
    database = without_cards.server.app[database_key]
    with database.activate():
        kept = (
            await InventoryItem.filter(user_id=alice_id)
            .order_by("item_id")
            .values_list("item_id", "quantity")
        )
    assert kept == [("card.makeup", 2), ("toy.ball", 1)]


async def test_the_inventory_of_one_type(client):
    alice_id, alice = await user_of(client, "alice")
    for item_id in ("toy.feather", "food.fish", "toy.ball"):
        await grant(client, alice_id, item_id, 1)
    status, body = await get(client, "/v1/users/inventory?type=toy", alice)
    assert status == 200, body
    assert [item["item_id"] for item in body["data"]["items"]] == ["toy.ball", "toy.feather"]
    status, body = await get(client, "/v1/users/inventory?type=card", alice)
    assert (status, body["data"]) == (200, {"items": []})


# --- both need a token ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/items", "/v1/users/inventory"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
async def test_without_a_valid_token_it_is_401(client, path, headers):
    status, body = await get(client, path, headers)
    assert (status, body["code"]) == (401, 40101), body
    assert "data" not in body


async def test_both_routes_are_in_the_openapi_document(client):
    document = await (await client.get("/openapi.json")).json()
    catalog, inventory = (
        document["paths"]["/v1/items"]["get"],
        document["paths"]["/v1/users/inventory"]["get"],
    )
    for operation in (catalog, inventory):
        assert [parameter["name"] for parameter in operation["parameters"]] == ["type"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"200", "400", "401"} <= set(operation["responses"])
