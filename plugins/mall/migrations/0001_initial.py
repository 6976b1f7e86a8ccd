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
            name='AdminLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin', fields.ForeignKeyField('core.User', source_field='admin_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('action', fields.CharField(max_length=32)),
                ('product_id', fields.CharField(max_length=32)),
                ('changes', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mall_admin_log', 'app': 'mall', 'pk_attr': 'id', 'table_description': "An admin's write to the catalog: who, what, when, and the fields it set."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.CharField(unique=True, max_length=32)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('product_id', fields.CharField(max_length=32)),
                ('product_name', fields.CharField(max_length=64)),
                ('item_id', fields.CharField(max_length=64)),
                ('quantity', fields.IntField()),
                ('points_deducted', fields.IntField()),
                ('status', fields.CharField(max_length=16)),
                ('idempotency_key', fields.CharField(null=True, max_length=64)),
                ('request_hash', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mall_orders', 'app': 'mall', 'unique_together': (('user', 'idempotency_key'),), 'indexes': [Index(fields=['user_id', 'created_at']), Index(fields=['product_id', 'user_id'])], 'pk_attr': 'id', 'table_description': 'An exchange of points for ``quantity`` units of a product, as it was at the time.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Product',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product_id', fields.CharField(unique=True, max_length=32)),
                ('sku', fields.CharField(null=True, unique=True, max_length=64)),
                ('name', fields.CharField(max_length=64)),
                ('description', fields.CharField(default='', max_length=500)),
                ('image_url', fields.CharField(default='', max_length=500)),
                ('type', fields.CharField(max_length=32)),
                ('category', fields.CharField(max_length=32)),
                ('points_cost', fields.IntField()),
                ('stock_quantity', fields.IntField(default=-1)),
                ('on_shelf', fields.BooleanField(default=True)),
                ('per_user_limit', fields.IntField(null=True)),
                ('item_id', fields.CharField(max_length=64)),
                ('sort_order', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mall_products', 'app': 'mall', 'indexes': [Index(fields=['on_shelf', 'category', 'sort_order'])], 'pk_attr': 'id', 'table_description': 'A product of the mall, by its public ``product_id``. ``sku`` is the stable key an import'},
            bases=['Model'],
        ),
        add_check(
            "mall_products",
            "mall_products_numbers_valid",
            "{points_cost} > 0 AND {stock_quantity} >= -1 AND ({per_user_limit} IS NULL OR {per_user_limit} > 0)",
            "points_cost",
            "stock_quantity",
            "per_user_limit",
        ),
        add_check(
            "mall_orders",
            "mall_orders_numbers_positive",
            "{quantity} > 0 AND {points_deducted} > 0",
            "quantity",
            "points_deducted",
        ),
    ]
