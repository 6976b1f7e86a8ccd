"""The inventory service on SQLite and PostgreSQL: grants add up, consumes never take a count
below zero however many race, and a refused consume changes nothing."""

from __future__ import annotations

import asyncio

import pytest

from mengchong.economy.inventory import NotEnoughItems, consume_items, grant_items, list_items
from mengchong.economy.items import Item, ItemCatalog
from mengchong.economy.models import InventoryItem
from mengchong.http.errors import ApiError, ErrorCode

CATALOG = ItemCatalog([Item("food.apple", "food", "苹果"), Item("toy.ball", "toy", "小皮球")])


async def held(database, user_id: int, item_id: str) -> int:
    with database.activate():
        row = await InventoryItem.get_or_none(user_id=user_id, item_id=item_id)
    return row.quantity if row else 0


async def grant(database, user_id: int, item_id: str, quantity: int) -> int:
    with database.activate():
        async with database.transaction() as connection:
            return await grant_items(connection, CATALOG, user_id, item_id, quantity)


async def consume(database, user_id: int, item_id: str, quantity: int = 1) -> int:
    with database.activate():
        async with database.transaction() as connection:
            return await consume_items(connection, user_id, item_id, quantity)


async def test_grants_add_up_and_consumes_take_away(database, make_user):
    user = await make_user()
    assert await grant(database, user.id, "food.apple", 3) == 3
    assert await grant(database, user.id, "food.apple", 4) == 7
    assert await grant(database, user.id, "toy.ball", 1) == 1
    assert await consume(database, user.id, "food.apple", 2) == 5
    assert await consume(database, user.id, "toy.ball") == 0

    with database.activate():
        listed = await list_items(database.connection, user.id)
        assert await InventoryItem.filter(user_id=user.id).count() == 2
    assert listed == [{"item_id": "food.apple", "quantity": 5}], "an item used up is not listed"


async def test_consuming_more_than_held_fails_naming_the_item_and_changes_nothing(database, make_user):
    user = await make_user()
    await grant(database, user.id, "food.apple", 2)
    with pytest.raises(NotEnoughItems) as raised:
        await consume(database, user.id, "food.apple", 3)
    assert raised.value.code == ErrorCode.INSUFFICIENT_POINTS
    assert raised.value.status == 422
    assert "food.apple" in raised.value.message
    assert (raised.value.item_id, raised.value.needed, raised.value.held) == ("food.apple", 3, 2)
    assert await held(database, user.id, "food.apple") == 2

    with pytest.raises(NotEnoughItems) as raised:
        await consume(database, user.id, "toy.never_had")
    assert raised.value.held == 0
    assert await held(database, user.id, "toy.never_had") == 0


async def test_50_concurrent_consumes_of_10_items_succeed_exactly_10_times(database, make_user):
    user = await make_user()
    await grant(database, user.id, "food.apple", 10)
    outcomes = await asyncio.gather(
        *(consume(database, user.id, "food.apple") for _ in range(50)), return_exceptions=True
    )
    succeeded = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, NotEnoughItems)]
    assert (len(succeeded), len(refused)) == (10, 40), [o for o in outcomes if isinstance(o, Exception)][:3]
    assert sorted(succeeded) == list(range(10)), "each success saw a different remaining count"
    assert await held(database, user.id, "food.apple") == 0


async def test_concurrent_first_grants_of_an_item_all_count(database, make_user):
    """Twenty grants racing to create the same row: the upsert never loses one or fails."""
    user = await make_user()
    results = await asyncio.gather(*(grant(database, user.id, "toy.ball", 2) for _ in range(20)))
    assert sorted(results) == list(range(2, 41, 2))
    assert await held(database, user.id, "toy.ball") == 40


async def test_changes_roll_back_with_the_callers_transaction(database, make_user):
    user = await make_user()
    await grant(database, user.id, "food.apple", 5)

    async def failing_order() -> None:
        with database.activate():
            async with database.transaction() as connection:
                await consume_items(connection, user.id, "food.apple", 5)
                await grant_items(connection, CATALOG, user.id, "toy.ball", 1)
                raise RuntimeError("order failed")

    with pytest.raises(RuntimeError, match="order failed"):
        await failing_order()
    assert await held(database, user.id, "food.apple") == 5
    assert await held(database, user.id, "toy.ball") == 0


async def test_a_grant_to_an_unknown_user_is_not_found_and_the_transaction_goes_on(database, make_user):
    user = await make_user()
    with database.activate():
        async with database.transaction() as connection:
            with pytest.raises(ApiError) as raised:
                await grant_items(connection, CATALOG, 987_654, "food.apple", 1)
            assert raised.value.status == 404
            # No failed statement, so the transaction is still usable (PostgreSQL would refuse otherwise).
            assert await grant_items(connection, CATALOG, user.id, "food.apple", 1) == 1
    assert await held(database, user.id, "food.apple") == 1


@pytest.mark.parametrize(
    ("item_id", "quantity"), [("food.apple", 0), ("food.apple", -1), ("", 1), ("x" * 65, 1)]
)
async def test_malformed_arguments_are_refused(database, make_user, item_id, quantity):
    user = await make_user()
    with pytest.raises(ValueError, match="must be"):
        await grant(database, user.id, item_id, quantity)
    with pytest.raises(ValueError, match="must be"):
        await consume(database, user.id, item_id, quantity)
