"""The check-in log: one row per user and local day, the database deciding "one a day"."""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model


class CheckinLog(Model):
    """A day a user checked in (``retroactive``: made up later), with what it paid out."""

    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    day = fields.DateField()
    retroactive = fields.BooleanField(default=False)
    reward_points = fields.IntField(default=0)
    bonus_points = fields.IntField(default=0)
    bonus_item_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "checkin_logs"
        unique_together = (("user", "day"),)
