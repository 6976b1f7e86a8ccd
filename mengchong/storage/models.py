"""Tables the kernel's storage needs: the event outbox, the once-per-event marks and the SQL
adapter of the documents port."""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model


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


class ProcessedEvent(Model):
    """An event a once-per-event handler has handled (:mod:`mengchong.events.once`)."""

    id = fields.BigIntField(primary_key=True)
    handler = fields.CharField(max_length=100)
    event_id = fields.CharField(max_length=36)
    processed_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "processed_events"
        unique_together = (("handler", "event_id"),)


class DocumentRow(Model):
    """One document of the SQL documents adapter: a JSON body with an optimistic version."""

    collection = fields.CharField(max_length=64)
    doc_id = fields.CharField(max_length=64)
    data = fields.JSONField()
    version = fields.IntField(default=1)

    class Meta:
        table = "documents"
        unique_together = (("collection", "doc_id"),)
