"""The order routes of seed §5.7.3-5.7.4 and the admins' list of every order. Each handler
validates (its decorators), calls one function of :mod:`mengchong_plugins.mall.orders` and
answers the view of what it got.

An order sent again with the same ``Idempotency-Key`` (and the same body) is answered like the
first time, 201 with the same order, plus the header ``Idempotent-Replayed: true``: a client that
lost the first answer can't tell a retry from the original except by that header, and nothing is
charged twice.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import (
    docs,
    headers_schema,
    match_info_schema,
    querystring_schema,
    request_schema,
    response_schema,
)

from mengchong.accounts.guard import admin_only, authenticated, current_user
from mengchong.http.conventions import AUTH
from mengchong.http.envelope import ok
from mengchong.http.pagination import Page
from mengchong.http.schemas import data_field, envelope, errors, link, page
from mengchong_plugins.mall import orders
from mengchong_plugins.mall import schemas_orders as schemas

routes = web.RouteTableDef()


@routes.post("/v1/mall/orders")
@docs(
    tags=["mall"],
    summary="Order a product with points (once per Idempotency-Key)",
    description="Takes the stock and the points and grants the items in one go, or changes nothing. "
    "The same Idempotency-Key with the same body answers the first order again (201, header "
    "`Idempotent-Replayed: true`, the balance as it is now); with another body, 409.",
    security=AUTH,
    responses=errors(409, 422),
    links={
        "read_order": link(
            "get", "/v1/mall/orders/{order_id}", "The order", parameters={"order_id": data_field("order_id")}
        )
    },
)
@response_schema(envelope(schemas.PlacedOrder), 201)
@headers_schema(schemas.IdempotencyHeaders)
@request_schema(schemas.OrderBody)
@authenticated
async def place_order(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    key = request["headers"].get("idempotency_key")
    placed = await orders.place_order(request.app, user.id, body["product_id"], body["quantity"], key)
    response = ok(schemas.placed_view(placed), "Order created successfully", status=201)
    if placed.replayed:
        response.headers[schemas.REPLAYED_HEADER] = "true"
    return response


@routes.get("/v1/mall/orders")
@docs(tags=["mall"], summary="The caller's orders, newest first", security=AUTH)
@response_schema(envelope(page(schemas.Order)))
@querystring_schema(schemas.OrdersQuery)
@authenticated
async def list_orders(request: web.Request) -> web.Response:
    user = await current_user(request)
    query = request["querystring"]
    page = Page.from_query(query)
    found, total = await orders.list_orders(request.app, page, user_id=user.id, status=query.get("status"))
    return ok(page.envelope([schemas.order_view(order) for order in found], total))


@routes.get("/v1/mall/orders/{order_id}")
@docs(tags=["mall"], summary="One of the caller's orders", security=AUTH, responses=errors(404))
@response_schema(envelope(schemas.Order))
@match_info_schema(schemas.OrderPath)
@authenticated
async def get_order(request: web.Request) -> web.Response:
    user = await current_user(request)
    order = await orders.get_order(request.app, user.id, request["match_info"]["order_id"])
    return ok(schemas.order_view(order))


@routes.get("/v1/admin/orders")
@docs(
    tags=["admin"],
    summary="Every user's orders, newest first (by user, product, status)",
    security=AUTH,
    responses=errors(403),
)
@response_schema(envelope(page(schemas.AdminOrder)))
@querystring_schema(schemas.AdminOrdersQuery)
@admin_only
async def admin_list_orders(request: web.Request) -> web.Response:
    query = request["querystring"]
    page = Page.from_query(query)
    found, total = await orders.list_orders(
        request.app,
        page,
        user_id=query.get("user_id"),
        product_id=query.get("product_id"),
        status=query.get("status"),
    )
    return ok(page.envelope([schemas.admin_order_view(order) for order in found], total))
