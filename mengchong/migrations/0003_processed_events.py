from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("core", "0002_accounts_economy")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ProcessedEvent",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("handler", fields.CharField(max_length=100)),
                ("event_id", fields.CharField(max_length=36)),
                ("processed_at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "processed_events",
                "app": "core",
                "unique_together": (("handler", "event_id"),),
                "pk_attr": "id",
                "table_description": "An event a once-per-event handler has handled (:mod:`mengchong.events.once`).",
            },
            bases=["Model"],
        ),
    ]
