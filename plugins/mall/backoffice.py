"""The mall's pages of the operator console (:mod:`mengchong.backoffice`): the products (create
one, take it off or put it on the shelf, set its stock) and the orders, filtered. They go through
the catalog's and the orders' own functions, as the admin API does; the catalog's admin log names
the console operator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as m
from aiohttp import web

from mengchong.backoffice import Action, Change, Field, Section, Table
from mengchong.clock import local_day, start_of_local_day
from mengchong.http.errors import ApiError, ErrorCode, not_found
from mengchong.http.pagination import Page
from mengchong.keys import clock_key, settings_key
from mengchong_plugins.mall import catalog, orders
from mengchong_plugins.mall.models import Order, Product
from mengchong_plugins.mall.schemas_catalog import ProductCreate, ProductUpdate

OPERATOR = "console"  # the catalog's admin log: the console's own audit log says which operator
PRODUCT_COLUMNS = ("Product", "Name", "Type", "Points", "Stock", "On shelf")
ORDER_COLUMNS = ("Order", "When", "User", "Product", "Quantity", "Points", "Status")


def checked(schema: m.Schema, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` loaded by the admin API's own schema; a 400 naming the fields otherwise."""
    try:
        return schema.load(values)
    except m.ValidationError as exc:
        problems = "; ".join(
            f"{name}: {' '.join(map(str, why))}" for name, why in sorted(exc.messages.items())
        )
        raise ApiError(ErrorCode.BAD_FIELD, problems) from None


def number(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(ErrorCode.BAD_FIELD, f"{name}: a whole number") from None


async def products_table(app: web.Application, filters: Mapping[str, str], offset: int, limit: int) -> Table:
    query = Product.all()
    if filters.get("shelf") in ("on", "off"):
        query = query.filter(on_shelf=filters["shelf"] == "on")
    if filters.get("name"):
        query = query.filter(name__icontains=filters["name"])
    rows = await query.order_by("sort_order", "-created_at").offset(offset).limit(limit)
    return Table(
        PRODUCT_COLUMNS,
        [
            (
                row.product_id,
                row.name,
                row.type,
                row.points_cost,
                "unlimited" if row.stock_quantity < 0 else row.stock_quantity,
                "yes" if row.on_shelf else "no",
            )
            for row in rows
        ],
        [row.product_id for row in rows],
        await query.count(),
    )


async def create(app: web.Application, values: Mapping[str, str]) -> Change:
    fields: dict[str, Any] = {name: value for name, value in values.items() if value != ""}
    for name in ("points_cost", "stock_quantity"):
        if name in fields:
            fields[name] = number(fields[name], name)
    product = await catalog.create_product(app, None, checked(ProductCreate(), fields), operator=OPERATOR)
    return Change(f"product:{product['product_id']}", None, product, f"Product {product['name']} created")


async def _change(app: web.Application, product_id: str, changes: dict[str, Any], what: str) -> Change:
    before = await catalog.get_product(app, product_id)
    if before is None:
        raise not_found("Product")
    after = await catalog.update_product(
        app, None, product_id, checked(ProductUpdate(), changes), operator=OPERATOR
    )
    kept = {name: before[name] for name in changes}
    return Change(
        f"product:{product_id}", kept, {name: after[name] for name in changes}, f"{before['name']}: {what}"
    )


async def toggle_shelf(app: web.Application, values: Mapping[str, str]) -> Change:
    product = await catalog.get_product(app, values["key"])
    if product is None:
        raise not_found("Product")
    on = not product["on_shelf"]
    return await _change(app, values["key"], {"on_shelf": on}, "on the shelf" if on else "off the shelf")


async def set_stock(app: web.Application, values: Mapping[str, str]) -> Change:
    stock = number(values["stock_quantity"], "stock")
    return await _change(app, values["key"], {"stock_quantity": stock}, f"stock set to {stock}")


async def orders_today(app: web.Application) -> int:
    """Orders made since the local day began."""
    timezone = app[settings_key].app.timezone
    start = start_of_local_day(local_day(app[clock_key].now(), timezone), timezone)
    return await Order.filter(created_at__gte=start).count()


async def edit(app: web.Application, values: Mapping[str, str]) -> Change:
    """Change the fields filled in (the others stay as they are)."""
    changes: dict[str, Any] = {name: value for name, value in values.items() if name != "key" and value != ""}
    if not changes:
        raise ApiError(ErrorCode.BAD_FIELD, "fill in at least one field to change")
    if "points_cost" in changes:
        changes["points_cost"] = number(changes["points_cost"], "points_cost")
    if "sort_order" in changes:
        changes["sort_order"] = number(changes["sort_order"], "sort_order")
    return await _change(app, values["key"], changes, "changed")


async def orders_table(app: web.Application, filters: Mapping[str, str], offset: int, limit: int) -> Table:
    user = filters.get("user_id", "")
    if user and not user.isdigit():
        raise ApiError(ErrorCode.BAD_FIELD, "User: a user id")
    page = Page(offset // limit + 1, limit)
    found, total = await orders.list_orders(
        app,
        page,
        user_id=int(user) if user else None,
        product_id=filters.get("product_id") or None,
        status=filters.get("status") or None,
    )
    rows = [
        (
            order.order_id,
            order.created_at.strftime("%Y-%m-%d %H:%M"),
            order.user_id,
            order.product_name,
            order.quantity,
            order.points_deducted,
            order.status,
        )
        for order in found
    ]
    return Table(ORDER_COLUMNS, rows, [order.order_id for order in found], total)


PRODUCT_FIELDS = (
    Field("name", "Name", required=True),
    Field("type", "Type", required=True),
    Field("category", "Category", required=True),
    Field("item_id", "Item granted", required=True),
    Field("points_cost", "Points", "number", required=True),
    Field("stock_quantity", "Stock (-1: unlimited)", "number"),
    Field("description", "Description"),
)


EDIT_FIELDS = (
    Field("name", "Name"),
    Field("points_cost", "Points", "number"),
    Field("category", "Category"),
    Field("sort_order", "Order", "number"),
)


def sections(app: web.Application) -> list[Section]:
    return [
        Section(
            "mall-products",
            "Products",
            products_table,
            filters=(Field("name", "Name"), Field("shelf", "Shelf", "select", ("on", "off"))),
            actions=(
                Action("create", "Create a product", create, PRODUCT_FIELDS),
                Action("shelf", "On/off the shelf", toggle_shelf, per_row=True),
                Action("edit", "Change", edit, EDIT_FIELDS, per_row=True),
                Action(
                    "stock",
                    "Set stock",
                    set_stock,
                    (Field("stock_quantity", "Stock", "number", required=True),),
                    per_row=True,
                ),
            ),
        ),
        Section(
            "mall-orders",
            "Orders",
            orders_table,
            filters=(
                Field("user_id", "User", "number"),
                Field("product_id", "Product"),
                Field("status", "Status"),
            ),
        ),
    ]
