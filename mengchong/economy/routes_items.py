"""The item routes: the item catalog (``GET /v1/items``) and the caller's inventory
(``GET /v1/users/inventory``), both for logged-in users, both in catalog order, optionally of one
``?type=``, and unpaged (the catalog is the enabled plugins' configured items, a few dozen at most).

An item a user still holds whose plugin has since been disabled stays in the inventory table but
is not listed: the catalog says what it is, and without it there is nothing to show.
"""

from __future__ import annotations

from typing import Any

import marshmallow as m
from aiohttp import web
from aiohttp_apigami import docs, querystring_schema, response_schema

from mengchong.accounts.guard import authenticated, current_user
from mengchong.economy import responses
from mengchong.economy.inventory import list_items
from mengchong.economy.items import ITEM_TYPE_MAX, Item
from mengchong.http.conventions import AUTH, StrictSchema
from mengchong.http.envelope import ok
from mengchong.http.errors import field_error
from mengchong.http.schemas import envelope, errors
from mengchong.keys import database_key, item_catalog_key

routes = web.RouteTableDef()


class ItemsQuery(StrictSchema):
    """``?type=``, both routes' only parameter; any other is a 400 naming it."""

    type = m.fields.String(
        validate=m.validate.Length(min=1, max=ITEM_TYPE_MAX),
        metadata={"description": "only the items of this type (one the catalog has: food, toy, ...)"},
    )


def requested_type(request: web.Request) -> str | None:
    """The ``?type=`` asked for: None for all, a 400 naming ``type`` when the catalog has no such type."""
    item_type: str | None = request["querystring"].get("type")
    types = request.app[item_catalog_key].types()
    if item_type is not None and item_type not in types:
        raise field_error("type", f"unknown item type {item_type!r} (known: {', '.join(types) or 'none'})")
    return item_type


def catalog_item(item: Item) -> dict[str, Any]:
    return {"item_id": item.item_id, "type": item.type, "name": item.name, "description": item.description}


@routes.get("/v1/items")
@docs(
    tags=["items"],
    summary="The item catalog: every item of the enabled plugins, optionally of one type",
    security=AUTH,
    responses=errors(400),
)
@response_schema(envelope(responses.ItemCatalog))
@querystring_schema(ItemsQuery)
@authenticated
async def list_catalog(request: web.Request) -> web.Response:
    item_type = requested_type(request)
    return ok({"items": [catalog_item(item) for item in request.app[item_catalog_key].items(item_type)]})


@routes.get("/v1/users/inventory")
@docs(
    tags=["users"],
    summary="The items the caller holds (optionally of one type), in catalog order",
    security=AUTH,
    responses=errors(400),
)
@response_schema(envelope(responses.Inventory))
@querystring_schema(ItemsQuery)
@authenticated
async def inventory(request: web.Request) -> web.Response:
    user = await current_user(request)
    item_type = requested_type(request)
    held = {
        row["item_id"]: row["quantity"]
        for row in await list_items(request.app[database_key].connection, user.id)
    }
    items = [
        {"item_id": item.item_id, "name": item.name, "type": item.type, "quantity": held[item.item_id]}
        for item in request.app[item_catalog_key].items(item_type)
        if item.item_id in held
    ]
    return ok({"items": items})
