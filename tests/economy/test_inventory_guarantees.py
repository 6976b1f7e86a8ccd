"""Each documented guarantee of the inventory service on its own, on SQLite and PostgreSQL.

Written against the module's surviving mutants (issue 16): every test has a second user who
holds the same item and must keep it, and the limits are tested at exactly the threshold and
one past it, with literal numbers so a mutated limit can't move the test along with it.
"""

from __future__ import annotations

from typing import Any

import pytest

from mengchong.economy.inventory import ITEM_ID_MAX, NotEnoughItems, consume_items, grant_items, list_items
from mengchong.economy.items import Item, ItemCatalog
from mengchong.economy.models import InventoryItem
from mengchong.http.errors import ErrorCode

CATALOG = ItemCatalog(
    [
        *(
            Item(item_id, item_id.split(".")[0], item_id)
            for item_id in ("food.apple", "food.cake", "toy.ball")
        ),
        Item("toy.bone", "toy", "骨头"),
        Item("a", "misc", "shortest id"),
        Item("x" * 64, "misc", "longest id"),
    ]
)


async def holdings(database, user_id: int) -> dict[str, int]:
    """Every row of the user's inventory, used up or not."""
    with database.activate():
        rows = await InventoryItem.filter(user_id=user_id).values_list("item_id", "quantity")
    return dict(rows)


async def grant(database, user_id: int, item_id: str, quantity: Any) -> int:
    with database.activate():
        async with database.transaction() as connection:
            return await grant_items(connection, CATALOG, user_id, item_id, quantity)


async def consume(database, user_id: int, item_id: str, *quantity: Any) -> int:
    """``consume_items`` with the quantity only when given, so its default is exercised too."""
    with database.activate():
        async with database.transaction() as connection:
            return await consume_items(connection, user_id, item_id, *quantity)


async def listed(database, user_id: int) -> list[dict[str, Any]]:
    with database.activate():
        return await list_items(database.connection, user_id)


# --- one user's items are never another's --------------------------------------------------


async def test_a_grant_goes_to_the_named_user_only(database, make_user):
    alice, bob = await make_user(), await make_user()
    await grant(database, bob.id, "food.apple", 5)
    assert await grant(database, alice.id, "food.apple", 2) == 2
    assert await grant(database, alice.id, "toy.ball", 1) == 1
    assert await holdings(database, alice.id) == {"food.apple": 2, "toy.ball": 1}
    assert await holdings(database, bob.id) == {"food.apple": 5}


async def test_a_user_cannot_consume_another_users_items(database, make_user):
    owner, other = await make_user(), await make_user()
    await grant(database, owner.id, "food.apple", 5)
    with pytest.raises(NotEnoughItems) as raised:
        await consume(database, other.id, "food.apple", 1)
    assert (raised.value.needed, raised.value.held) == (1, 0)
    assert await holdings(database, owner.id) == {"food.apple": 5}
    assert await holdings(database, other.id) == {}


async def test_a_consume_takes_from_the_named_user_only(database, make_user):
    bob, alice = await make_user(), await make_user()
    await grant(database, bob.id, "food.apple", 5)
    await grant(database, alice.id, "food.apple", 2)
    assert await consume(database, alice.id, "food.apple", 1) == 1
    assert await holdings(database, alice.id) == {"food.apple": 1}
    assert await holdings(database, bob.id) == {"food.apple": 5}


async def test_not_enough_items_reports_what_the_user_holds(database, make_user):
    """Bob's row comes first in the table, so a lookup without the user would report his."""
    bob, alice = await make_user(), await make_user()
    await grant(database, bob.id, "food.apple", 9)
    await grant(database, alice.id, "food.apple", 1)
    with pytest.raises(NotEnoughItems) as raised:
        await consume(database, alice.id, "food.apple", 3)
    assert (raised.value.item_id, raised.value.needed, raised.value.held) == ("food.apple", 3, 1)
    assert raised.value.message == "Not enough of item 'food.apple': this needs 3 and you have 1"
    assert (raised.value.code, raised.value.status) == (ErrorCode.INSUFFICIENT_POINTS, 422)
    assert await holdings(database, alice.id) == {"food.apple": 1}
    assert await holdings(database, bob.id) == {"food.apple": 9}


async def test_the_list_holds_the_users_own_items_by_item_id(database, make_user):
    alice, bob = await make_user(), await make_user()
    await grant(database, bob.id, "food.cake", 4)
    for item_id, quantity in (("toy.ball", 1), ("food.apple", 3), ("toy.bone", 2)):
        await grant(database, alice.id, item_id, quantity)
    await grant(database, bob.id, "food.apple", 8)
    await consume(database, alice.id, "toy.bone", 1)

    assert await listed(database, alice.id) == [
        {"item_id": "food.apple", "quantity": 3},
        {"item_id": "toy.ball", "quantity": 1},
        {"item_id": "toy.bone", "quantity": 1},
    ]
    assert await listed(database, bob.id) == [
        {"item_id": "food.apple", "quantity": 8},
        {"item_id": "food.cake", "quantity": 4},
    ]
    assert await listed(database, 987_654) == []


# --- quantities -----------------------------------------------------------------------------


async def test_a_consume_takes_one_by_default(database, make_user):
    user = await make_user()
    await grant(database, user.id, "food.apple", 3)
    assert await consume(database, user.id, "food.apple") == 2
    assert await consume(database, user.id, "food.apple") == 1
    assert await holdings(database, user.id) == {"food.apple": 1}


async def test_consuming_exactly_what_is_held_leaves_zero_and_one_more_is_refused(database, make_user):
    user = await make_user()
    await grant(database, user.id, "food.apple", 4)
    with pytest.raises(NotEnoughItems) as raised:
        await consume(database, user.id, "food.apple", 5)
    assert (raised.value.needed, raised.value.held) == (5, 4)
    assert await consume(database, user.id, "food.apple", 4) == 0
    with pytest.raises(NotEnoughItems) as raised:
        await consume(database, user.id, "food.apple")
    assert (raised.value.needed, raised.value.held) == (1, 0)
    assert await holdings(database, user.id) == {"food.apple": 0}
    assert await listed(database, user.id) == []


async def test_each_change_stamps_the_row(database, make_user):
    user = await make_user()

    async def stamp() -> Any:
        with database.activate():
            return (await InventoryItem.get(user_id=user.id, item_id="food.apple")).updated_at

    await grant(database, user.id, "food.apple", 2)
    created = await stamp()
    await grant(database, user.id, "food.apple", 1)
    granted_again = await stamp()
    await consume(database, user.id, "food.apple", 1)
    consumed = await stamp()
    assert created.utcoffset() is not None
    assert created < granted_again < consumed


# --- limits ---------------------------------------------------------------------------------


def test_the_item_id_limit_is_the_columns_width():
    assert ITEM_ID_MAX == InventoryItem._meta.fields_map["item_id"].max_length == 64


@pytest.mark.parametrize("item_id", ["a", "x" * 64])
async def test_item_ids_at_their_limits_are_accepted(database, make_user, item_id):
    user = await make_user()
    assert await grant(database, user.id, item_id, 1) == 1
    assert await consume(database, user.id, item_id, 1) == 0
    assert await holdings(database, user.id) == {item_id: 0}


@pytest.mark.parametrize("item_id", ["", "x" * 65])
async def test_an_item_id_past_a_limit_is_refused(database, make_user, item_id):
    user = await make_user()
    for operation in (grant, consume):
        with pytest.raises(ValueError, match="item_id must be 1-64 characters"):
            await operation(database, user.id, item_id, 1)
    assert await holdings(database, user.id) == {}


@pytest.mark.parametrize("quantity", [True, False, 0, -1, 1.0, "1", None])
async def test_a_quantity_that_is_not_a_positive_int_is_refused(database, make_user, quantity):
    user = await make_user()
    await grant(database, user.id, "food.apple", 2)
    for operation in (grant, consume):
        with pytest.raises(ValueError, match="quantity must be a positive int"):
            await operation(database, user.id, "food.apple", quantity)
    assert await holdings(database, user.id) == {"food.apple": 2}
