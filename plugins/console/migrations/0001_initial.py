from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Operator',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('failed_logins', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_operators', 'app': 'console', 'pk_attr': 'id', 'table_description': 'Someone who runs the service. The password is kept as an argon2 hash only.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('form_key', fields.CharField(null=True, unique=True, max_length=36)),
                ('operator', fields.ForeignKeyField('console.Operator', source_field='operator_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('action', fields.CharField(max_length=64)),
                ('target', fields.CharField(max_length=128)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_audit', 'app': 'console', 'indexes': [Index(fields=['operator_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One change made through the console: who, what, to what, and the values before and after.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OperatorSession',
            fields=[
                ('token_hash', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('operator', fields.ForeignKeyField('console.Operator', source_field='operator_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_sessions', 'app': 'console', 'pk_attr': 'token_hash', 'table_description': 'A signed-in browser: the cookie holds a random token, the table only its SHA-256, so the'},
            bases=['Model'],
        ),
    ]
