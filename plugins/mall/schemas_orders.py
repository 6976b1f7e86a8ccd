"""Request bodies, headers and parameters of the order routes (they also document /openapi.json),
the schemas of what those routes answer (seed §5.7.3-5.7.4), and the views filling them."""

from __future__ import annotations

from typing import Any

import marshmallow as m

from mengchong.http.conventions import HEX_ID_LENGTH, HEX_ID_PATTERN, StrictSchema, hex_id
from mengchong.http.pagination import PageQuery
from mengchong.http.validation import pure_load
from mengchong_plugins.mall.orders import ORDER_STATUSES, OrderRecord, Placed

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_MAX = 64
# Printable ASCII but the space (0x21-0x7e); \A...\Z because marshmallow's Regexp only matches
# at the start, and "$" would let a trailing newline through.
_IDEMPOTENCY_KEY = rf"\A[!-~]{{1,{IDEMPOTENCY_KEY_MAX}}}\Z"
_HEX_ID_ERROR = f"must be {HEX_ID_LENGTH} lowercase hex characters"


@pure_load
class OrderBody(StrictSchema):
    product_id = hex_id()
    quantity = m.fields.Integer(
        strict=True,  # "1" and 1.5 are refused, and so is true (marshmallow 3.26)
        load_default=1,
        validate=m.validate.Range(min=1, error="must be at least 1"),
        metadata={"description": "units to order, 1 to mall.max_order_quantity (10 by default)"},
    )


class IdempotencyHeaders(m.Schema):
    """Only the header of ours; every other header of the request is ignored."""

    class Meta:
        unknown = m.EXCLUDE

    idempotency_key = m.fields.String(
        data_key=IDEMPOTENCY_HEADER,
        validate=m.validate.Regexp(
            _IDEMPOTENCY_KEY, error=f"must be 1-{IDEMPOTENCY_KEY_MAX} printable ASCII characters, no space"
        ),
        metadata={
            "description": "makes a retried order safe: the same key with the same body answers the "
            "first order again (with `Idempotent-Replayed: true`), with another body 409",
            "pattern": f"^[!-~]{{1,{IDEMPOTENCY_KEY_MAX}}}$",
        },
    )


class OrdersQuery(PageQuery):
    """The caller's orders: an unknown parameter is a 400 naming it."""

    class Meta:
        unknown = m.RAISE

    status = m.fields.String(validate=m.validate.OneOf(ORDER_STATUSES))


class AdminOrdersQuery(OrdersQuery):
    user_id = m.fields.Integer(strict=False, validate=m.validate.Range(min=1, max=2**63 - 1))
    product_id = m.fields.String(
        validate=m.validate.Regexp(HEX_ID_PATTERN, error=_HEX_ID_ERROR), metadata={"pattern": HEX_ID_PATTERN}
    )


class OrderPath(StrictSchema):
    order_id = hex_id()


# --- What the routes answer (the ``data`` of each success envelope in /openapi.json) ---------


class Order(m.Schema):
    order_id = m.fields.String(required=True)
    product_id = m.fields.String(required=True)
    product_name = m.fields.String(required=True, metadata={"description": "as it was when ordered"})
    item_id = m.fields.String(required=True, metadata={"description": "the item granted per unit"})
    quantity = m.fields.Integer(required=True)
    points_deducted = m.fields.Integer(required=True)
    status = m.fields.String(required=True, validate=m.validate.OneOf(ORDER_STATUSES))
    created_at = m.fields.DateTime(required=True)


class PlacedOrder(Order):
    remaining_points = m.fields.Integer(
        required=True, metadata={"description": "the balance now (after a replay too)"}
    )


class AdminOrder(Order):
    user_id = m.fields.String(required=True, metadata={"description": "a user id, as a string of digits"})


def order_view(order: OrderRecord) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "product_id": order.product_id,
        "product_name": order.product_name,
        "item_id": order.item_id,
        "quantity": order.quantity,
        "points_deducted": order.points_deducted,
        "status": order.status,
        "created_at": order.created_at.isoformat(),
    }


def placed_view(placed: Placed) -> dict[str, Any]:
    return {**order_view(placed.order), "remaining_points": placed.remaining_points}


def admin_order_view(order: OrderRecord) -> dict[str, Any]:
    return {**order_view(order), "user_id": str(order.user_id)}
