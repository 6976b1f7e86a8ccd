"""Default plugin: the economy's routes — an admin's points adjustment and a user's own ledger,
and the item routes of :mod:`mengchong.economy.routes_items` (the catalog, the user's inventory).

The services behind them (:mod:`mengchong.economy.points`, :mod:`mengchong.economy.inventory`)
are what other plugins call; these routes are only the operator's and the user's window on them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import marshmallow as m
from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, request_schema, response_schema

from mengchong.accounts.guard import admin_only, authenticated, current_user, require_admin
from mengchong.accounts.schemas import UserIdPath
from mengchong.economy import points, responses
from mengchong.economy.models import PointsLedgerEntry
from mengchong.economy.points import REASON_MAX
from mengchong.economy.routes_items import routes as item_routes
from mengchong.hookspecs import hookimpl
from mengchong.http.conventions import AUTH, StrictSchema
from mengchong.http.envelope import ok
from mengchong.http.errors import field_error
from mengchong.http.pagination import Page, PageQuery
from mengchong.http.schemas import envelope, errors, page
from mengchong.keys import database_key

log = logging.getLogger("mengchong.economy")

routes = web.RouteTableDef()
ADMIN_DELTA_MAX = 1_000_000  # far above any real adjustment; catches an extra digit or two


def not_zero(value: int) -> None:
    if value == 0:
        raise m.ValidationError("must not be zero")


def not_blank(value: str) -> None:
    if not value.strip():
        raise m.ValidationError("must not be blank")


class PointsAdjustment(StrictSchema):
    delta = m.fields.Integer(
        required=True,
        strict=True,
        validate=[m.validate.Range(min=-ADMIN_DELTA_MAX, max=ADMIN_DELTA_MAX), not_zero],
        metadata={"description": "Points to add (negative to take away), never zero"},
    )
    reason = m.fields.String(
        required=True,
        validate=[m.validate.Length(min=1, max=REASON_MAX), not_blank],
        metadata={"description": "Why, as it appears in the user's ledger"},
    )


IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,48}")


def idempotency_ref(request: web.Request) -> str | None:
    """The ledger ref of an adjustment sent with an ``Idempotency-Key`` header (a UUID, say)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise field_error(IDEMPOTENCY_HEADER, "must be 1-48 letters, digits or the characters _ . : -")
    return f"admin:{key}"


def ledger_item(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "entry_id": str(entry["id"]),
        "delta": entry["delta"],
        "reason": entry["reason"],
        "ref": entry["ref"],
        "balance_after": entry["balance_after"],
        "created_at": entry["created_at"].isoformat(),
    }


@routes.post("/v1/admin/users/{user_id}/points")
@docs(
    tags=["admin"],
    summary="Add points to or take points from a user (admins only)",
    security=AUTH,
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,48}$"},
            "description": "Send the same key again (a retry) and the change is made once; "
            "the same key with another delta or reason is refused with 422",
        }
    ],
    responses=errors(403, 404, 422),
)
@response_schema(envelope(responses.PointsChange))
@match_info_schema(UserIdPath)
@request_schema(PointsAdjustment)
@admin_only
async def adjust_points(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    user_id: int = request["match_info"]["user_id"]
    delta: int = request["data"]["delta"]
    reason: str = request["data"]["reason"]
    ref = idempotency_ref(request)
    result = await points.adjust_points(
        request.app[database_key], user_id, delta, reason, ref, ref_field=IDEMPOTENCY_HEADER
    )
    log.info(
        "admin %s changed the points of user %s by %s (%s)",
        admin.id,
        user_id,
        delta,
        reason,
        extra={"admin_id": admin.id, "user_id": user_id, "delta": delta, "entry_id": result.entry_id},
    )
    data = {
        "user_id": str(result.user_id),
        "delta": result.delta,
        "balance": result.balance,
        "reason": result.reason,
        "entry_id": str(result.entry_id),
    }
    if not result.applied:
        response = ok(data, "Points changed (an earlier request with this Idempotency-Key)")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    return ok(data, "Points changed")


@routes.get("/v1/users/points/ledger")
@docs(tags=["users"], summary="The caller's points ledger, newest first", security=AUTH)
@response_schema(envelope(page(responses.LedgerEntry)))
@querystring_schema(PageQuery)
@authenticated
async def points_ledger(request: web.Request) -> web.Response:
    user = await current_user(request)
    page = Page.from_query(request["querystring"])
    entries = PointsLedgerEntry.filter(user_id=user.id)
    total = await entries.count()
    rows = (
        await entries.order_by("-id")
        .offset(page.offset)
        .limit(page.limit)
        .values("id", "delta", "reason", "ref", "balance_after", "created_at")
    )
    return ok(page.envelope([ledger_item(row) for row in rows], total))


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return [*routes, *item_routes]
