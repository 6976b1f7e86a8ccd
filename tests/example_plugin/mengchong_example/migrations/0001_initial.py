from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Note",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("text", fields.CharField(max_length=50)),
                ("stars", fields.IntField(default=0)),
            ],
            options={"table": "example_notes", "app": "example", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
