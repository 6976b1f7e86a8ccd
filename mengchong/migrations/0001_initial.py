from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="DocumentRow",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("collection", fields.CharField(max_length=64)),
                ("doc_id", fields.CharField(max_length=64)),
                ("data", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("version", fields.IntField(default=1)),
            ],
            options={
                "table": "documents",
                "app": "core",
                "unique_together": (("collection", "doc_id"),),
                "pk_attr": "id",
                "table_description": "One document of the SQL documents adapter: a JSON body with an optimistic version.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="OutboxEvent",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("event_id", fields.CharField(unique=True, max_length=36)),
                ("name", fields.CharField(max_length=100)),
                ("payload", fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                (
                    "relayed_at",
                    fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
                ),
                ("attempts", fields.IntField(default=0)),
            ],
            options={
                "table": "outbox_events",
                "app": "core",
                "pk_attr": "id",
                "table_description": "A domain event written in the same transaction as the change it reports, relayed later.",
            },
            bases=["Model"],
        ),
    ]
