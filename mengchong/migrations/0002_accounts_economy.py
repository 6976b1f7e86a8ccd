from tortoise import migrations

from mengchong.storage.checks import add_check
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('openid', fields.CharField(unique=True, max_length=64)),
                ('unionid', fields.CharField(null=True, max_length=64)),
                ('session_key', fields.CharField(default='', max_length=64)),
                ('nickname', fields.CharField(default='', max_length=64)),
                ('avatar_url', fields.CharField(default='', max_length=512)),
                ('gender', fields.SmallIntField(default=0)),
                ('birthday', fields.DateField(null=True)),
                ('points_balance', fields.BigIntField(default=0)),
                ('role', fields.CharField(default='user', max_length=16)),
                ('token_version', fields.IntField(default=0)),
                ('banned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('agreed_privacy_policy_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'users', 'app': 'core', 'pk_attr': 'id', 'table_description': 'A WeChat user. ``points_balance`` changes only through :mod:`mengchong.economy.points`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InventoryItem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='inventory', on_delete=OnDelete.CASCADE)),
                ('item_id', fields.CharField(max_length=64)),
                ('quantity', fields.BigIntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'user_inventory', 'app': 'core', 'unique_together': (('user', 'item_id'),), 'pk_attr': 'id', 'table_description': 'How many of one item a user holds.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsLedgerEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='ledger', on_delete=OnDelete.RESTRICT)),
                ('delta', fields.BigIntField()),
                ('reason', fields.CharField(max_length=32)),
                ('ref', fields.CharField(null=True, max_length=64)),
                ('balance_after', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'points_ledger', 'app': 'core', 'unique_together': (('user', 'reason', 'ref'),), 'indexes': [Index(fields=['user_id', 'id'])], 'pk_attr': 'id', 'table_description': "One change of a user's points, never updated or deleted: the deltas sum to the balance."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserLoginLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='login_logs', on_delete=OnDelete.CASCADE)),
                ('is_new_user', fields.BooleanField(default=False)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=256)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user_login_logs', 'app': 'core', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UserSettings',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name='settings', on_delete=OnDelete.CASCADE)),
                ('notification_prefs', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('privacy_prefs', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'user_settings', 'app': 'core', 'pk_attr': 'id'},
            bases=['Model'],
        ),
            # CHECK constraints: see mengchong/storage/checks.py for why they are not in the models.
        add_check("users", "users_points_balance_non_negative", "{points_balance} >= 0", "points_balance"),
        add_check("users", "users_gender_known", "{gender} IN (0, 1, 2)", "gender"),
        add_check("users", "users_role_known", "{role} IN ('user', 'admin')", "role"),
        add_check("user_inventory", "user_inventory_quantity_non_negative", "{quantity} >= 0", "quantity"),
        add_check("points_ledger", "points_ledger_balance_non_negative", "{balance_after} >= 0", "balance_after"),
        ]
