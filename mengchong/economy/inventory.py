"""Item inventory: how many of each item (food, toys) a user holds.

Each change is one statement, atomic on its own and inside a caller's transaction alike:
a grant is an upsert that adds to the row, a consume is a conditional UPDATE that only
succeeds while enough is held, so concurrent consumes can never take a count below zero.
A grant takes the item catalog and refuses an item that is not in it (400 naming ``item_id``)
before touching the database; a consume needs no catalog: nobody holds an item never granted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong.accounts.profiles import USERS
from mengchong.economy.items import ITEM_ID_MAX, ItemCatalog
from mengchong.economy.models import InventoryItem
from mengchong.http.errors import ApiError, ErrorCode, not_found
from mengchong.storage.database import fetch_rows
from mengchong.storage.transaction import touch


class NotEnoughItems(ApiError):
    """The user holds fewer of the item than asked for; nothing was changed."""

    def __init__(self, item_id: str, needed: int, held: int) -> None:
        super().__init__(
            ErrorCode.INSUFFICIENT_POINTS,
            f"Not enough of item {item_id!r}: this needs {needed} and you have {held}",
        )
        self.item_id = item_id
        self.needed = needed
        self.held = held


# INSERT ... SELECT FROM users yields no row for an unknown user instead of a foreign-key
# error, which on PostgreSQL would abort the caller's whole transaction.
_GRANT = (
    "INSERT INTO user_inventory (user_id, item_id, quantity, updated_at) "
    "SELECT id, $2, $3, $4 FROM users WHERE id = $1 "
    "ON CONFLICT (user_id, item_id) DO UPDATE "
    "SET quantity = user_inventory.quantity + excluded.quantity, updated_at = excluded.updated_at "
    "RETURNING quantity"
)
_CONSUME = (
    "UPDATE user_inventory SET quantity = quantity - $3, updated_at = $4 "
    "WHERE user_id = $1 AND item_id = $2 AND quantity >= $3 RETURNING quantity"
)


def _check_arguments(item_id: str, quantity: int) -> None:
    if not 1 <= len(item_id) <= ITEM_ID_MAX:
        raise ValueError(f"item_id must be 1-{ITEM_ID_MAX} characters, got {item_id!r}")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValueError(f"quantity must be a positive int, got {quantity!r}")


async def grant_items(
    connection: BaseDBAsyncClient, catalog: ItemCatalog, user_id: int, item_id: str, quantity: int
) -> int:
    """Add ``quantity`` of the item to the user's inventory; returns how many they now hold.

    An item not in ``catalog`` is a 400 naming ``item_id``, and nothing is written."""
    _check_arguments(item_id, quantity)
    catalog.require(item_id)
    rows = await fetch_rows(connection, _GRANT, [user_id, item_id, quantity, datetime.now(UTC)])
    if not rows:
        raise not_found("User")
    _touch_holdings(connection, user_id)
    return int(rows[0]["quantity"])


async def consume_items(connection: BaseDBAsyncClient, user_id: int, item_id: str, quantity: int = 1) -> int:
    """Take ``quantity`` of the item; returns how many are left, or raises :class:`NotEnoughItems`."""
    _check_arguments(item_id, quantity)
    rows = await fetch_rows(connection, _CONSUME, [user_id, item_id, quantity, datetime.now(UTC)])
    if not rows:
        held = (
            await InventoryItem.filter(user_id=user_id, item_id=item_id)
            .using_db(connection)
            .values_list("quantity", flat=True)
        )
        raise NotEnoughItems(item_id, quantity, int(held[0]) if held else 0)
    _touch_holdings(connection, user_id)
    return int(rows[0]["quantity"])


def _touch_holdings(connection: BaseDBAsyncClient, user_id: int) -> None:
    # What a user holds is part of the user's state kept under their row version (a check-in
    # status counts the make-up cards), so a change to it is a change to the user's row.
    if not touch(connection, USERS, user_id):
        raise TypeError("inventory changes need a transaction of Database.transaction()")


async def list_items(connection: BaseDBAsyncClient, user_id: int) -> list[dict[str, Any]]:
    """The items the user holds at least one of, by item id: ``[{"item_id", "quantity"}]``."""
    rows = (
        await InventoryItem.filter(user_id=user_id, quantity__gt=0)
        .using_db(connection)
        .order_by("item_id")
        .values("item_id", "quantity")
    )
    return [{"item_id": row["item_id"], "quantity": int(row["quantity"])} for row in rows]
