"""The mall's tables: products, orders (one per idempotency key of a user) and the admins' log.

Stock and points change only by conditional updates in the order's transaction (see
:mod:`mengchong_plugins.mall.orders`); "one order per key" is the unique (user, idempotency_key).
"""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model

UNLIMITED = -1
"""``stock_quantity`` of a product that never runs out."""


class Product(Model):
    """A product of the mall, by its public ``product_id``. ``sku`` is the stable key an import
    file names it by (None for a product an admin created without one). No semicolon in a model's
    docstring: its first line becomes a table comment, and SQLite's migration splits on them."""

    id = fields.BigIntField(primary_key=True)
    product_id = fields.CharField(max_length=32, unique=True)
    sku = fields.CharField(max_length=64, unique=True, null=True)
    name = fields.CharField(max_length=64)
    description = fields.CharField(max_length=500, default="")
    image_url = fields.CharField(max_length=500, default="")
    type = fields.CharField(max_length=32)
    category = fields.CharField(max_length=32)
    points_cost = fields.IntField()
    stock_quantity = fields.IntField(default=UNLIMITED)
    on_shelf = fields.BooleanField(default=True)
    per_user_limit = fields.IntField(null=True)
    item_id = fields.CharField(max_length=64)
    sort_order = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "mall_products"
        indexes = (("on_shelf", "category", "sort_order"),)


class Order(Model):
    """An exchange of points for ``quantity`` units of a product, as it was at the time."""

    id = fields.BigIntField(primary_key=True)
    order_id = fields.CharField(max_length=32, unique=True)
    user = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE)
    product_id = fields.CharField(max_length=32)  # the product's public id
    product_name = fields.CharField(max_length=64)
    item_id = fields.CharField(max_length=64)
    quantity = fields.IntField()
    points_deducted = fields.IntField()
    status = fields.CharField(max_length=16)
    idempotency_key = fields.CharField(max_length=64, null=True)
    request_hash = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "mall_orders"
        unique_together = (("user", "idempotency_key"),)
        indexes = (("user_id", "created_at"), ("product_id", "user_id"))


class AdminLog(Model):
    """An admin's write to the catalog: who (an admin user through the API, or a console operator
    by name), what, when, and the fields it set."""

    id = fields.BigIntField(primary_key=True)
    admin = fields.ForeignKeyField("core.User", related_name=False, on_delete=fields.CASCADE, null=True)
    operator = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=32)
    product_id = fields.CharField(max_length=32)
    changes = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "mall_admin_log"
