"""The mall baselines of ``scripts/bench_baseline.py``, NOT part of the product:

- ``GET /v1/mall/products``: the product's cached page bytes read from Redis with redis-py (one
  GET of a copy the bench made of the page the product cached) and answered as they are.
- ``POST /v1/mall/orders``: the product's statements for an order of a product with unlimited
  stock, with raw asyncpg in one transaction: the product, the order row, the user's row
  locked, the balance, the ledger row, the inventory grant and the two outbox rows
  (``points.changed`` and ``order.created``) in one INSERT. No validation, no idempotency key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from aiohttp import web
from bench_bare import Bare, Routes, json_response
from bench_baseline_checkin import outbox_event

PRODUCT_SQL = (
    "SELECT id, name, points_cost, stock_quantity, on_shelf, per_user_limit, item_id "
    "FROM mall_products WHERE product_id = $1"
)
ORDER_SQL = (
    "INSERT INTO mall_orders (order_id, user_id, product_id, product_name, item_id, quantity, "
    "points_deducted, status, idempotency_key, request_hash, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'completed', NULL, NULL, $8) "
    "ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id"
)
LOCK_SQL = "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE"
BALANCE_SQL = (
    "UPDATE users SET points_balance = points_balance + $2 "
    "WHERE id = $1 AND points_balance + $2 >= 0 RETURNING points_balance"
)
LEDGER_SQL = (
    "INSERT INTO points_ledger (user_id, delta, reason, ref, balance_after, created_at) "
    "VALUES ($1, $2, 'mall.order', $3, $4, $5) ON CONFLICT (user_id, reason, ref) DO NOTHING RETURNING id"
)
GRANT_SQL = (
    "INSERT INTO user_inventory (user_id, item_id, quantity, updated_at) "
    "SELECT id, $2, $3, $4 FROM users WHERE id = $1 "
    "ON CONFLICT (user_id, item_id) DO UPDATE "
    "SET quantity = user_inventory.quantity + excluded.quantity, updated_at = excluded.updated_at "
    "RETURNING quantity"
)
OUTBOX_SQL = (
    "INSERT INTO outbox_events (event_id, name, payload, created_at, attempts) "
    "VALUES ($1, 'points.changed', $2::jsonb, $5, 0), ($3, 'order.created', $4::jsonb, $5, 0)"
)


def mall_routes(bare: Bare, page_key: str | None) -> Routes:
    async def products(request: web.BaseRequest) -> web.Response:
        body = await bare.redis_command("GET", page_key or "")
        if body is None:
            return json_response({"code": 40401, "message": "no cached page"}, 404)
        return web.Response(body=body, content_type="application/json")

    async def order(request: web.BaseRequest) -> web.Response:
        claims = bare.claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        user_id = int(claims["sub"])
        body = orjson.loads(await request.read())
        quantity = int(body.get("quantity", 1))
        now = datetime.now(UTC)
        order_id = uuid.uuid4().hex
        connection = await bare.pg.acquire()
        try:
            async with connection.transaction():
                product = await connection.fetchrow(PRODUCT_SQL, body["product_id"])
                if product is None or not product["on_shelf"]:
                    return json_response({"code": 40001, "message": "no such product"}, 400)
                cost = product["points_cost"] * quantity
                values = (
                    order_id,
                    user_id,
                    body["product_id"],
                    product["name"],
                    product["item_id"],
                    quantity,
                )
                await connection.fetchrow(ORDER_SQL, *values, cost, now)
                await connection.fetchrow(LOCK_SQL, user_id)
                balance = await connection.fetchval(BALANCE_SQL, user_id, -cost)
                if balance is None:
                    raise web.HTTPUnprocessableEntity()
                await connection.fetchrow(LEDGER_SQL, user_id, -cost, order_id, balance, now)
                await connection.fetchrow(GRANT_SQL, user_id, product["item_id"], quantity, now)
                changed = {"user_id": user_id, "delta": -cost, "balance": balance}
                changed |= {"reason": "mall_order", "ref": order_id}
                created = {"user_id": user_id, "order_id": order_id, "product_id": body["product_id"]}
                created |= {"product_name": product["name"], "item_id": product["item_id"]}
                created |= {"quantity": quantity, "points_deducted": cost, "balance": balance}
                events = [
                    *outbox_event("points.changed", changed, now),
                    *outbox_event("order.created", created, now),
                ]
                await connection.execute(OUTBOX_SQL, *events, now)
        finally:
            bare.pg.release(connection)
        data = {
            "order_id": order_id,
            "product_id": body["product_id"],
            "product_name": product["name"],
            "quantity": quantity,
            "points_deducted": cost,
            "remaining_points": balance,
            "status": "completed",
        }
        return json_response({"code": 0, "message": "Order created successfully", "data": data}, 201)

    return {"/v1/mall/products": {"GET": products}, "/v1/mall/orders": {"POST": order}}
