"""What the accounts routes answer, as marshmallow schemas for /openapi.json (the ``data`` of
each success envelope; :func:`mengchong.http.schemas.envelope` wraps them)."""

from __future__ import annotations

import marshmallow as m

from mengchong.accounts.schemas import DEFAULT_NOTIFICATION_PREFS, DEFAULT_PRIVACY_PREFS

ID = {"description": "a user id, as a string of digits"}


class UserInfo(m.Schema):
    user_id = m.fields.String(required=True, metadata=ID)
    openid = m.fields.String(required=True)
    nickname = m.fields.String(required=True)
    avatar_url = m.fields.String(required=True)
    is_new_user = m.fields.Boolean(required=True)


class LoginResult(m.Schema):
    token = m.fields.String(required=True, metadata={"description": "the bearer token (JWT)"})
    expires_in = m.fields.Integer(required=True, metadata={"description": "seconds"})
    user_info = m.fields.Nested(UserInfo, required=True)


class Session(m.Schema):
    user_id = m.fields.String(required=True, metadata=ID)
    expires_in = m.fields.Integer(required=True, validate=m.validate.Range(min=0))


class BanState(m.Schema):
    user_id = m.fields.String(required=True, metadata=ID)
    banned = m.fields.Boolean(required=True)


def prefs(name: str, keys: dict[str, bool]) -> type[m.Schema]:
    """Every key is answered (saved value or default)."""
    return type(name, (m.Schema,), {key: m.fields.Boolean(required=True) for key in keys})


NotificationPrefsView = prefs("NotificationPrefsView", DEFAULT_NOTIFICATION_PREFS)
PrivacyPrefsView = prefs("PrivacyPrefsView", DEFAULT_PRIVACY_PREFS)


class SettingsView(m.Schema):
    notification_prefs = m.fields.Nested(NotificationPrefsView, required=True)
    privacy_prefs = m.fields.Nested(PrivacyPrefsView, required=True)


class Profile(SettingsView):
    user_id = m.fields.String(required=True, metadata=ID)
    nickname = m.fields.String(required=True)
    avatar_url = m.fields.String(required=True)
    gender = m.fields.Integer(required=True, validate=m.validate.OneOf([0, 1, 2]))
    birthday = m.fields.Date(required=True, allow_none=True)
    points_balance = m.fields.Integer(required=True, validate=m.validate.Range(min=0))
    role = m.fields.String(required=True, metadata={"description": '"user" or "admin"'})


class Avatar(m.Schema):
    avatar_url = m.fields.String(required=True)
