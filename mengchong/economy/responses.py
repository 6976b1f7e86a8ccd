"""What the economy routes answer, as marshmallow schemas for /openapi.json (the ``data`` of
each success envelope)."""

from __future__ import annotations

import marshmallow as m


class PointsChange(m.Schema):
    user_id = m.fields.String(required=True)
    delta = m.fields.Integer(required=True)
    balance = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    reason = m.fields.String(required=True)
    entry_id = m.fields.String(required=True, metadata={"description": "the ledger entry's id"})


class LedgerEntry(m.Schema):
    entry_id = m.fields.String(required=True)
    delta = m.fields.Integer(required=True)
    reason = m.fields.String(required=True)
    ref = m.fields.String(required=True, allow_none=True)
    balance_after = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    created_at = m.fields.DateTime(required=True)


class CatalogItem(m.Schema):
    item_id = m.fields.String(required=True, metadata={"description": "e.g. food.fish"})
    type = m.fields.String(required=True, metadata={"description": "e.g. food, toy, card"})
    name = m.fields.String(required=True, metadata={"description": "the name to show"})
    description = m.fields.String(required=True, metadata={"description": "may be empty"})


class ItemCatalog(m.Schema):
    items = m.fields.List(m.fields.Nested(CatalogItem), required=True)


class HeldItem(m.Schema):
    item_id = m.fields.String(required=True)
    name = m.fields.String(required=True)
    type = m.fields.String(required=True)
    quantity = m.fields.Integer(required=True, validate=m.validate.Range(min=1))


class Inventory(m.Schema):
    items = m.fields.List(m.fields.Nested(HeldItem), required=True)
