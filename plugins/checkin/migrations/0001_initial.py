from tortoise import migrations

from mengchong.storage.checks import add_check
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0003_processed_events')]

    initial = True

    operations = [
        ops.CreateModel(
            name='CheckinLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('retroactive', fields.BooleanField(default=False)),
                ('reward_points', fields.IntField(default=0)),
                ('bonus_points', fields.IntField(default=0)),
                ('bonus_item_id', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'checkin_logs', 'app': 'checkin', 'unique_together': (('user', 'day'),), 'pk_attr': 'id', 'table_description': 'A day a user checked in (``retroactive``: made up later), with what it paid out.'},
            bases=['Model'],
        ),
        add_check(
            "checkin_logs",
            "checkin_logs_rewards_non_negative",
            "{reward_points} >= 0 AND {bonus_points} >= 0",
            "reward_points",
            "bonus_points",
        ),
    ]
