from tortoise import migrations

from mengchong.storage.checks import add_check
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_accounts_economy'), ('core', '0003_processed_events')]

    initial = True

    operations = [
        ops.CreateModel(
            name='NotificationGrant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('template_id', fields.CharField(max_length=128)),
                ('count', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification_grants', 'app': 'notifications', 'unique_together': (('user', 'template_id'),), 'indexes': [Index(fields=['template_id', 'user_id'])], 'pk_attr': 'id', 'table_description': 'How many more messages of one template a user has accepted (wx.requestSubscribeMessage).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.CharField(unique=True, max_length=160)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('template_id', fields.CharField(max_length=128)),
                ('page', fields.CharField(default='', max_length=256)),
                ('data', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(max_length=16)),
                ('reason', fields.CharField(default='', max_length=200)),
                ('errcode', fields.IntField(null=True)),
                ('attempts', fields.IntField(default=0)),
                ('grant_spent', fields.BooleanField(default=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification_logs', 'app': 'notifications', 'indexes': [Index(fields=['status', 'id']), Index(fields=['user_id', 'id']), Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': "One notification: what it sends to whom, and how far it got (status, WeChat's errcode, attempts)."},
            bases=['Model'],
        ),
        add_check("notification_grants", "notification_grants_count_valid", "{count} >= 0", "count"),
        add_check(
            "notification_logs",
            "notification_logs_state_valid",
            "{status} IN ('queued', 'sent', 'mocked', 'skipped', 'refused', 'failed', 'dead') AND {attempts} >= 0",
            "status",
            "attempts",
        ),
    ]
