"""Tables of the economy: the append-only points ledger and each user's item inventory."""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model


class PointsLedgerEntry(Model):
    """One change of a user's points, never updated or deleted: the deltas sum to the balance.

    ``(user, reason, ref)`` is unique, so a grant carrying a reference (an order id, a check-in
    day) can never be applied twice."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="ledger", on_delete=fields.RESTRICT)
    delta = fields.BigIntField()
    reason = fields.CharField(max_length=32)
    ref = fields.CharField(max_length=64, null=True)
    balance_after = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "points_ledger"
        unique_together = (("user", "reason", "ref"),)
        indexes = (("user_id", "id"),)


class InventoryItem(Model):
    """How many of one item a user holds."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="inventory", on_delete=fields.CASCADE)
    item_id = fields.CharField(max_length=64)
    quantity = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_inventory"
        unique_together = (("user", "item_id"),)
