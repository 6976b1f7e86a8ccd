"""The console's tables: operator accounts (apart from the mini program's users), their
sessions, and the audit log of every change made through the console."""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model


class Operator(Model):
    """Someone who runs the service. The password is kept as an argon2 hash only."""

    id = fields.BigIntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "console_operators"


class OperatorSession(Model):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256, so the
    table alone signs no one in. ``csrf_token`` is what every form of the session carries."""

    token_hash = fields.CharField(max_length=64, primary_key=True)
    operator = fields.ForeignKeyField("console.Operator", related_name=False, on_delete=fields.CASCADE)
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "console_sessions"


class AuditEntry(Model):
    """One change made through the console: who, what, to what, and the values before and after.
    ``form_key`` is the submitted form's own key: a form sent again finds its entry and changes
    nothing (an entry is claimed before its change is made)."""

    id = fields.BigIntField(primary_key=True)
    form_key = fields.CharField(max_length=36, null=True, unique=True)
    operator = fields.ForeignKeyField("console.Operator", related_name=False, on_delete=fields.RESTRICT)
    action = fields.CharField(max_length=64)
    target = fields.CharField(max_length=128)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "console_audit"
        indexes = (("operator_id", "id"),)
