"""The example plugin's one table."""

from tortoise import fields

from mengchong.storage.table import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=50)
    stars = fields.IntField(default=0)

    class Meta:
        table = "example_notes"
