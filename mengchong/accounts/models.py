"""Tables of identity: users, their login history and their settings."""

from __future__ import annotations

from tortoise import fields

from mengchong.storage.table import Model

ROLES = ("user", "admin")


class User(Model):
    """A WeChat user. ``points_balance`` changes only through :mod:`mengchong.economy.points`."""

    id = fields.BigIntField(primary_key=True)
    openid = fields.CharField(max_length=64, unique=True)
    unionid = fields.CharField(max_length=64, null=True)
    session_key = fields.CharField(max_length=64, default="")  # server-side only, never returned
    nickname = fields.CharField(max_length=64, default="")
    avatar_url = fields.CharField(max_length=512, default="")
    gender = fields.SmallIntField(default=0)
    birthday = fields.DateField(null=True)
    points_balance = fields.BigIntField(default=0)
    role = fields.CharField(max_length=16, default="user")
    token_version = fields.IntField(default=0)
    banned_at = fields.DatetimeField(null=True)
    agreed_privacy_policy_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"


class UserLoginLog(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.ForeignKeyField("core.User", related_name="login_logs", on_delete=fields.CASCADE)
    is_new_user = fields.BooleanField(default=False)
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=256, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user_login_logs"


class UserSettings(Model):
    id = fields.BigIntField(primary_key=True)
    user = fields.OneToOneField("core.User", related_name="settings", on_delete=fields.CASCADE)
    notification_prefs = fields.JSONField(default=dict)
    privacy_prefs = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_settings"
