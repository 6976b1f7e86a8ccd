"""Orders of the points mall (seed §5.7.3-5.7.4): placing one, atomically and once per
``Idempotency-Key``, and reading them back (the caller's own, or every user's for admins).

An order is one transaction: its row goes in first, then the stock, the points, the items and
``order.created``; any refusal raises and rolls all of it back. The row's unique
(user, idempotency_key) is what makes a key one order: the INSERT ``ON CONFLICT DO NOTHING``
of a second request with the key waits (PostgreSQL) or runs after (SQLite: one writer at a time)
the first one's transaction, and then either goes in (the first rolled back) or inserts nothing
and answers the first order again. The stock is taken by a conditional UPDATE, the points by the
ledger's conditional UPDATE, so simultaneous orders never oversell nor overspend.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong import plugin_settings
from mengchong.accounts.models import User
from mengchong.economy.inventory import grant_items
from mengchong.economy.points import change_points
from mengchong.events import record_event
from mengchong.http.errors import ApiError, ErrorCode, FieldError, conflict, field_error, not_found
from mengchong.http.pagination import Page
from mengchong.keys import clock_key, database_key, item_catalog_key
from mengchong.storage.database import fetch_rows
from mengchong_plugins.mall.catalog import invalidate_products
from mengchong_plugins.mall.events import OrderCreated
from mengchong_plugins.mall.models import UNLIMITED, Order
from mengchong_plugins.mall.settings import MallSettings

COMPLETED = "completed"
ORDER_STATUSES = (COMPLETED,)
KEY_FIELD = "Idempotency-Key"  # the header, named in the errors about it

_PRODUCT = (
    "SELECT id, name, points_cost, stock_quantity, on_shelf, per_user_limit, item_id "
    "FROM mall_products WHERE product_id = $1"
)
_INSERT = (
    "INSERT INTO mall_orders (order_id, user_id, product_id, product_name, item_id, quantity, "
    "points_deducted, status, idempotency_key, request_hash, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id"
)
# NO KEY UPDATE, not UPDATE: the order row just inserted holds a KEY SHARE lock on its user (the
# foreign key), and so may another order of the user's; FOR UPDATE would wait for it while it
# waits for us (a deadlock). NO KEY UPDATE conflicts with itself and with the balance's UPDATE.
_LOCK_USER = "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE"
_ORDERED = (
    "SELECT COALESCE(SUM(quantity), 0) AS total FROM mall_orders "
    "WHERE user_id = $1 AND product_id = $2 AND status = $3"
)
_TAKE_STOCK = (
    "UPDATE mall_products SET stock_quantity = stock_quantity - $2 "
    "WHERE id = $1 AND stock_quantity >= $2 RETURNING stock_quantity"
)
_STOCK = "SELECT stock_quantity FROM mall_products WHERE id = $1"
_FIELDS = (
    "order_id",
    "user_id",
    "product_id",
    "product_name",
    "item_id",
    "quantity",
    "points_deducted",
    "status",
    "created_at",
)


@dataclass(frozen=True)
class OrderRecord:
    order_id: str
    user_id: int
    product_id: str
    product_name: str
    item_id: str
    quantity: int
    points_deducted: int
    status: str
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> OrderRecord:
        return cls(**{name: row[name] for name in _FIELDS})


@dataclass(frozen=True)
class Placed:
    """An order placed, or answered again for its ``Idempotency-Key`` (``replayed``)."""

    order: OrderRecord
    remaining_points: int
    replayed: bool = False


@dataclass(frozen=True)
class _Product:
    id: int
    name: str
    points_cost: int
    stock_quantity: int
    on_shelf: bool
    per_user_limit: int | None
    item_id: str


@dataclass(frozen=True)
class _Outcome:
    placed: Placed
    stock_left: int | None  # None: the product's stock is unlimited (the list shows no change)


class _KeyUsed(Exception):
    """Leaves (and so rolls back) an order's transaction when its key may name an earlier order
    of the user's; ``otherwise`` is the error to answer if it names none."""

    def __init__(self, otherwise: ApiError | None = None) -> None:
        super().__init__("the idempotency key may name an earlier order")
        self.otherwise = otherwise


def request_hash(product_id: str, quantity: int) -> str:
    """What a request with a key asked for: the same key must come with the same hash."""
    return hashlib.sha256(f"{product_id}:{quantity}".encode()).hexdigest()


async def place_order(
    app: web.Application, user_id: int, product_id: str, quantity: int, key: str | None = None
) -> Placed:
    """Order ``quantity`` of the product for the user, or answer the order ``key`` already names.

    Refusals (nothing changed): 400 naming ``quantity`` or ``product_id`` (unknown or off the
    shelf), 422 for the per-user limit (42204), the stock (42202) or the points (42201), 409
    naming ``Idempotency-Key`` when the key names an order of another product or quantity."""
    settings = plugin_settings(app, MallSettings)
    if not 1 <= quantity <= settings.max_order_quantity:
        raise field_error("quantity", f"must be between 1 and {settings.max_order_quantity}")
    asked = request_hash(product_id, quantity)
    try:
        outcome = await _place(app, settings, user_id, product_id, quantity, key, asked)
    except _KeyUsed as used:
        return await _earlier_order(app, user_id, str(key), asked, used.otherwise)
    if outcome.stock_left is not None:  # the product list shows the stock: after the commit
        await invalidate_products(app)
    return outcome.placed


async def _place(
    app: web.Application,
    settings: MallSettings,
    user_id: int,
    product_id: str,
    quantity: int,
    key: str | None,
    asked: str,
) -> _Outcome:
    async with app[database_key].transaction() as connection:
        product = await _product(connection, product_id)
        if product is None or not product.on_shelf:
            unavailable = field_error("product_id", "no such product on the shelf")
            if key is not None:  # a retry of an order whose product has gone since: answer it
                raise _KeyUsed(unavailable)
            raise unavailable
        order = OrderRecord(
            order_id=uuid.uuid4().hex,
            user_id=user_id,
            product_id=product_id,
            product_name=product.name,
            item_id=product.item_id,
            quantity=quantity,
            points_deducted=product.points_cost * quantity,
            status=COMPLETED,
            created_at=app[clock_key].now(),
        )
        if not await _insert(connection, order, key, asked):
            raise _KeyUsed()
        # Orders of one user run one at a time from here (their limit is counted under this
        # lock). Taken for every order, not only those of a limited product, so that the locks
        # are always taken user first, then product: an admin setting a limit meanwhile can't
        # make two orders of one user wait for each other.
        if connection.capabilities.dialect == "postgres":  # SQLite: one writer at a time already
            await fetch_rows(connection, _LOCK_USER, [user_id])
        if product.per_user_limit is not None:
            await _check_limit(connection, user_id, product_id, quantity, product.per_user_limit)
        stock_left = await _take_stock(connection, product, quantity)
        spent = await change_points(
            connection, user_id, -order.points_deducted, settings.order_reason, order.order_id
        )
        await grant_items(connection, app[item_catalog_key], user_id, order.item_id, quantity)
        await record_event(connection, _created(order, spent.balance))
    return _Outcome(Placed(order, spent.balance), stock_left)


async def _product(connection: BaseDBAsyncClient, product_id: str) -> _Product | None:
    rows = await fetch_rows(connection, _PRODUCT, [product_id])
    if not rows:
        return None
    row = rows[0]
    limit = row["per_user_limit"]
    return _Product(
        id=int(row["id"]),
        name=row["name"],
        points_cost=int(row["points_cost"]),
        stock_quantity=int(row["stock_quantity"]),
        on_shelf=bool(row["on_shelf"]),
        per_user_limit=int(limit) if limit is not None else None,
        item_id=row["item_id"],
    )


async def _insert(connection: BaseDBAsyncClient, order: OrderRecord, key: str | None, asked: str) -> bool:
    """The order's row; False when the user's ``key`` already names another order."""
    values = [
        order.order_id,
        order.user_id,
        order.product_id,
        order.product_name,
        order.item_id,
        order.quantity,
        order.points_deducted,
        order.status,
        key,
        asked if key is not None else None,
        order.created_at,
    ]
    return bool(await fetch_rows(connection, _INSERT, values))


async def _check_limit(
    connection: BaseDBAsyncClient, user_id: int, product_id: str, quantity: int, limit: int
) -> None:
    """The user's units of the product, this order's included, must not pass the limit."""
    rows = await fetch_rows(connection, _ORDERED, [user_id, product_id, COMPLETED])
    total = int(rows[0]["total"])
    if total > limit:
        left = max(0, limit - (total - quantity))
        raise ApiError(
            ErrorCode.LIMIT_REACHED,
            f"Limit reached: at most {limit} of this product per user, {left} more for you",
            [FieldError("quantity", f"at most {left} more of this product (limit {limit} per user)")],
        )


async def _take_stock(connection: BaseDBAsyncClient, product: _Product, quantity: int) -> int | None:
    """Take ``quantity`` from a limited stock; returns what is left (None when unlimited)."""
    if product.stock_quantity == UNLIMITED:
        return None
    rows = await fetch_rows(connection, _TAKE_STOCK, [product.id, quantity])
    if rows:
        return int(rows[0]["stock_quantity"])
    now = await fetch_rows(connection, _STOCK, [product.id])
    if now and int(now[0]["stock_quantity"]) == UNLIMITED:  # an admin lifted the limit meanwhile
        return None
    left = int(now[0]["stock_quantity"]) if now else 0
    raise ApiError(ErrorCode.OUT_OF_STOCK, f"Out of stock: {left} left, this order needs {quantity}")


def _created(order: OrderRecord, balance: int) -> OrderCreated:
    return OrderCreated(
        user_id=order.user_id,
        order_id=order.order_id,
        product_id=order.product_id,
        product_name=order.product_name,
        item_id=order.item_id,
        quantity=order.quantity,
        points_deducted=order.points_deducted,
        balance=balance,
    )


async def _earlier_order(
    app: web.Application, user_id: int, key: str, asked: str, otherwise: ApiError | None
) -> Placed:
    """The order ``key`` names, answered again when it was asked for the same product and
    quantity (with the balance as it is now); 409 naming the key when it was not."""
    connection = app[database_key].connection
    row = (
        await Order.filter(user_id=user_id, idempotency_key=key)
        .using_db(connection)
        .values(*_FIELDS, "request_hash")
    )
    if not row:
        # Only when the insert lost to an order that is gone since (its user deleted, say).
        raise otherwise or conflict("This Idempotency-Key is in use by another request; try again")
    if row[0]["request_hash"] != asked:
        message = "was already used for an order of another product or quantity"
        raise ApiError(ErrorCode.CONFLICT, f"{KEY_FIELD} {message}", [FieldError(KEY_FIELD, message)])
    balance = await User.filter(id=user_id).using_db(connection).values_list("points_balance", flat=True)
    return Placed(OrderRecord.of(row[0]), int(balance[0]) if balance else 0, replayed=True)


async def list_orders(
    app: web.Application,
    page: Page,
    *,
    user_id: int | None = None,
    product_id: str | None = None,
    status: str | None = None,
) -> tuple[list[OrderRecord], int]:
    """Orders (of one user, one product, one status when given), newest first, and their count."""
    filters = {"user_id": user_id, "product_id": product_id, "status": status}
    query = Order.filter(**{name: value for name, value in filters.items() if value is not None})
    query = query.using_db(app[database_key].connection)
    total = await query.count()
    if total <= page.offset:
        return [], total
    rows = await query.order_by("-created_at", "-id").offset(page.offset).limit(page.limit).values(*_FIELDS)
    return [OrderRecord.of(row) for row in rows], total


async def get_order(app: web.Application, user_id: int, order_id: str) -> OrderRecord:
    """The user's order; 404 for an unknown one and for another user's alike."""
    rows = (
        await Order.filter(order_id=order_id, user_id=user_id)
        .using_db(app[database_key].connection)
        .values(*_FIELDS)
    )
    if not rows:
        raise not_found("Order")
    return OrderRecord.of(rows[0])
