"""Helpers of the mall tests: users and their points, products written straight into the catalog
table (for tests of orders, which don't go through the admin API), and the reads around an order
(the balance, the ledger, the inventory). Fixtures are in conftest.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from mengchong.accounts.models import User
from mengchong.economy.models import InventoryItem, PointsLedgerEntry
from mengchong.economy.points import grant_points
from mengchong.keys import database_key
from mengchong_plugins.mall.models import Product
from support import bearer, login

Auth = dict[str, str]
"""The Authorization header of a logged-in user (``support.bearer``)."""

ADMIN_CODE = "mall-admin"
"""The login code of the admin: openid ``mock-mall-admin`` is in ``auth.admin_openids``."""

FOOD = "food.fish"
TOY = "toy.ball"
"""Items of the pets plugin's catalog, which products grant."""


async def user(client: TestClient, code: str) -> tuple[int, Auth]:
    """Log in as openid ``mock-<code>``; returns the user id and the Authorization header."""
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def give_points(client: TestClient, user_id: int, amount: int) -> None:
    """Grant ``amount`` points through the ledger (as a check-in or an admin would)."""
    database = client.server.app[database_key]
    with database.activate():
        await grant_points(database, user_id, amount, "test.grant", uuid.uuid4().hex)


async def insert_product(client: TestClient, **fields: Any) -> dict[str, Any]:
    """A product row written straight into the catalog (defaults: on the shelf, 10 points,
    unlimited stock, granting food.fish); returns its fields with its ``product_id``."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "product_id": uuid.uuid4().hex,
        "name": "Fish",
        "description": "A fresh fish",
        "image_url": "",
        "type": "virtual_pet_food",
        "category": "food",
        "points_cost": 10,
        "stock_quantity": -1,
        "on_shelf": True,
        "per_user_limit": None,
        "item_id": FOOD,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    database = client.server.app[database_key]
    with database.activate():
        await Product.create(**values)
    return values


async def balance_of(client: TestClient, user_id: int) -> int:
    database = client.server.app[database_key]
    with database.activate():
        return (await User.get(id=user_id)).points_balance


async def ledger_of(client: TestClient, user_id: int) -> list[PointsLedgerEntry]:
    database = client.server.app[database_key]
    with database.activate():
        return await PointsLedgerEntry.filter(user_id=user_id).order_by("id")


async def held(client: TestClient, user_id: int, item_id: str) -> int:
    """How many ``item_id`` the user holds (0 when none)."""
    database = client.server.app[database_key]
    with database.activate():
        row = await InventoryItem.get_or_none(user_id=user_id, item_id=item_id)
    return row.quantity if row is not None else 0


async def order(
    client: TestClient,
    auth: Auth,
    product_id: str | None = None,
    quantity: int = 1,
    *,
    key: str | None = None,
    body: Any = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """``POST /v1/mall/orders`` of ``quantity`` of the product (or exactly ``body``), with the
    ``Idempotency-Key`` when given; the status, the headers and the envelope."""
    headers = {**auth, **({"Idempotency-Key": key} if key is not None else {})}
    sent = body if body is not None else {"product_id": product_id, "quantity": quantity}
    response = await client.post("/v1/mall/orders", json=sent, headers=headers)
    return response.status, dict(response.headers), await response.json()


async def ordered(client: TestClient, auth: Auth, product_id: str, quantity: int = 1) -> dict[str, Any]:
    """An order that must go through; the data of its 201."""
    status, _, envelope = await order(client, auth, product_id, quantity)
    assert status == 201, envelope
    return envelope["data"]
