"""Request bodies and parameters of the catalog routes (they also document /openapi.json), and the
schemas of what they answer (seed §5.7.1-5.7.2). The product fields' bounds live here once: the
admin API validates its bodies with :class:`ProductCreate` / :class:`ProductUpdate` and the import
command validates every product of a catalog file with :class:`ProductCreate` too."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import marshmallow as m

from mengchong.economy.items import ITEM_ID_MAX
from mengchong.http.conventions import StrictSchema, hex_id
from mengchong.http.pagination import PageQuery
from mengchong.http.text import display_name_problem, text_problem

NAME_MAX = 64
DESCRIPTION_MAX = 500
IMAGE_URL_MAX = 500
TYPE_MAX = 32
CATEGORY_MAX = 32
SKU_MAX = 64
POINTS_COST_MAX = 1_000_000
# The columns are 32-bit integers: bounds far below 2**31 keep a typo from becoming a 500.
STOCK_MAX = 1_000_000_000
PER_USER_LIMIT_MAX = 1_000_000
SORT_ORDER_BOUND = 1_000_000_000
UNLIMITED = -1  # as models.UNLIMITED; repeated so the schemas stand alone in the document
_SKU = re.compile(rf"[A-Za-z0-9_.:-]{{1,{SKU_MAX}}}")


def _storable(value: str) -> None:
    if (problem := text_problem(value)) is not None:
        raise m.ValidationError(problem)


def _not_blank(value: str) -> None:
    if value and not value.strip():  # "" is the length's to refuse
        raise m.ValidationError("must not be blank")


def _display_name(value: str) -> None:
    if (problem := display_name_problem(value)) is not None:
        raise m.ValidationError(problem)


def _image_url(value: str) -> None:
    """Empty, or an absolute http(s) URL with a host."""
    if value == "":
        return
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        ok = False
    if not ok or any(char.isspace() for char in value):
        raise m.ValidationError("must be empty or an http(s) URL")


def _sku(value: str) -> None:
    if not _SKU.fullmatch(value):
        raise m.ValidationError(f"must be 1-{SKU_MAX} of the characters A-Z a-z 0-9 _ . : -")


class StrictBoolean(m.fields.Boolean):
    """A JSON boolean only (marshmallow's own Boolean also takes 1, "yes", "on"...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _text(low: int, high: int, *extra: Any, **kwargs: Any) -> m.fields.String:
    checks = [m.validate.Length(min=low, max=high), _storable, *extra]
    if low > 0:
        checks.append(_not_blank)
    return m.fields.String(validate=checks, **kwargs)


def _integer(low: int, high: int, **kwargs: Any) -> m.fields.Integer:
    return m.fields.Integer(strict=True, validate=m.validate.Range(min=low, max=high), **kwargs)


# Each product field, built with required=/load_default= by the schema that uses it.
def name_field(**kwargs: Any) -> m.fields.String:
    return _text(1, NAME_MAX, _display_name, metadata={"description": "shown in the mall"}, **kwargs)


def description_field(**kwargs: Any) -> m.fields.String:
    return _text(0, DESCRIPTION_MAX, **kwargs)


def image_url_field(**kwargs: Any) -> m.fields.String:
    return _text(0, IMAGE_URL_MAX, _image_url, metadata={"description": "empty or an http(s) URL"}, **kwargs)


def type_field(**kwargs: Any) -> m.fields.String:
    meta = {"description": "virtual_pet_food, virtual_pet_toy, makeup_card..."}
    return _text(1, TYPE_MAX, metadata=meta, **kwargs)


def category_field(**kwargs: Any) -> m.fields.String:
    return _text(1, CATEGORY_MAX, **kwargs)


def points_cost_field(**kwargs: Any) -> m.fields.Integer:
    return _integer(1, POINTS_COST_MAX, **kwargs)


def stock_quantity_field(**kwargs: Any) -> m.fields.Integer:
    meta = {"description": f"{UNLIMITED}: unlimited"}
    return _integer(UNLIMITED, STOCK_MAX, metadata=meta, **kwargs)


def per_user_limit_field(**kwargs: Any) -> m.fields.Integer:
    meta = {"description": "most units one user may ever buy; null: no limit"}
    return _integer(1, PER_USER_LIMIT_MAX, allow_none=True, metadata=meta, **kwargs)


def item_id_field(**kwargs: Any) -> m.fields.String:
    meta = {"description": "the inventory item one unit grants (an item of /v1/items)"}
    return _text(1, ITEM_ID_MAX, metadata=meta, **kwargs)


def sort_order_field(**kwargs: Any) -> m.fields.Integer:
    meta = {"description": "the list's order: ascending, then oldest first"}
    return _integer(-SORT_ORDER_BOUND, SORT_ORDER_BOUND, metadata=meta, **kwargs)


def sku_field(**kwargs: Any) -> m.fields.String:
    meta = {"description": "a stable key of your own (unique), by which catalog files name it"}
    return m.fields.String(validate=_sku, allow_none=True, metadata=meta, **kwargs)


class ProductCreate(StrictSchema):
    name = name_field(required=True)
    description = description_field(load_default="")
    image_url = image_url_field(load_default="")
    type = type_field(required=True)
    category = category_field(required=True)
    points_cost = points_cost_field(required=True)
    stock_quantity = stock_quantity_field(load_default=UNLIMITED)
    on_shelf = StrictBoolean(load_default=True)
    per_user_limit = per_user_limit_field(load_default=None)
    item_id = item_id_field(required=True)
    sort_order = sort_order_field(load_default=0)
    sku = sku_field(load_default=None)


class ProductUpdate(StrictSchema):
    """Any of the product's fields, at least one; those absent are left as they are."""

    name = name_field()
    description = description_field()
    image_url = image_url_field()
    type = type_field()
    category = category_field()
    points_cost = points_cost_field()
    stock_quantity = stock_quantity_field()
    on_shelf = StrictBoolean()
    per_user_limit = per_user_limit_field()
    item_id = item_id_field()
    sort_order = sort_order_field()
    sku = sku_field()

    @m.validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise m.ValidationError("give at least one field to change", "body")


class ProductPath(StrictSchema):
    product_id = hex_id()


class ProductsQuery(StrictSchema, PageQuery):
    """``page``, ``limit`` (PageQuery's) and the filters; any other parameter is refused."""

    category = _text(1, CATEGORY_MAX)
    type = _text(1, TYPE_MAX)


class AdminProductsQuery(ProductsQuery):
    on_shelf = m.fields.Boolean(
        truthy={"true"}, falsy={"false"}, metadata={"description": "true or false (default: both)"}
    )


# --- What the routes answer ------------------------------------------------------------------


class MallProductSummary(m.Schema):
    """A product as the list shows it."""

    product_id = m.fields.String(required=True)
    name = m.fields.String(required=True)
    description = m.fields.String(required=True)
    image_url = m.fields.String(required=True)
    type = m.fields.String(required=True)
    category = m.fields.String(required=True)
    points_cost = m.fields.Integer(required=True)
    stock_quantity = m.fields.Integer(required=True, metadata={"description": f"{UNLIMITED}: unlimited"})
    per_user_limit = m.fields.Integer(required=True, allow_none=True)
    item_id = m.fields.String(required=True)


class MallProduct(MallProductSummary):
    """A product with everything about it."""

    sku = m.fields.String(required=True, allow_none=True)
    on_shelf = m.fields.Boolean(required=True)
    sort_order = m.fields.Integer(required=True)
    created_at = m.fields.DateTime(required=True)
    updated_at = m.fields.DateTime(required=True)
