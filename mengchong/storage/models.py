"""Tables the kernel's storage needs: the event outbox and the SQL adapter of the documents port."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class OutboxEvent(Model):
    """A domain event written in the same transaction as the change it reports, relayed later."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=36, unique=True)
    name = fields.CharField(max_length=100)
    payload = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)
    relayed_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)

    class Meta:
        table = "outbox_events"


class DocumentRow(Model):
    """One document of the SQL documents adapter: a JSON body with an optimistic version."""

    collection = fields.CharField(max_length=64)
    doc_id = fields.CharField(max_length=64)
    data = fields.JSONField()
    version = fields.IntField(default=1)

    class Meta:
        table = "documents"
        unique_together = (("collection", "doc_id"),)
