"""Request bodies of the accounts routes (they also document the routes in /openapi.json),
and the defaults of user settings."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as m

from mengchong.http.conventions import StrictSchema

NICKNAME_MAX = 20
DEFAULT_NOTIFICATION_PREFS: dict[str, bool] = {
    "checkin_reminder": True,
    "activity_push": False,
    "pet_status_alert": True,
}
DEFAULT_PRIVACY_PREFS: dict[str, bool] = {"profile_public": True, "show_on_leaderboard": True}


class StrictBoolean(m.fields.Boolean):
    """true or false only: not 1, "yes" or "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class LoginBody(StrictSchema):
    code = m.fields.String(required=True, validate=m.validate.Length(min=1, max=128))
    encryptedData = m.fields.String(validate=m.validate.Length(min=1, max=16_384))
    iv = m.fields.String(validate=m.validate.Length(min=1, max=64))
    agreed_privacy_policy = StrictBoolean(load_default=False)

    @m.validates_schema
    def _pair(self, data: dict[str, Any], **_: Any) -> None:
        if ("encryptedData" in data) != ("iv" in data):
            field = "iv" if "encryptedData" in data else "encryptedData"
            raise m.ValidationError("encryptedData and iv go together", field)


def past_date(value: date) -> None:
    if value >= date.today():
        raise m.ValidationError("must be a date in the past")
    if value.year < 1900:
        raise m.ValidationError("must be after 1900-01-01")


class ProfileUpdate(StrictSchema):
    nickname = m.fields.String()
    avatar_url = m.fields.String(validate=m.validate.Length(max=512))
    gender = m.fields.Integer(strict=True, validate=m.validate.OneOf([0, 1, 2]))
    birthday = m.fields.Date(validate=past_date, allow_none=True)


class AvatarBody(StrictSchema):
    avatar_url = m.fields.String(required=True, validate=m.validate.Length(min=1, max=512))


def prefs_schema(name: str, keys: dict[str, bool]) -> type[m.Schema]:
    fields = {key: StrictBoolean() for key in keys}
    return type(name, (StrictSchema,), fields)


NotificationPrefs = prefs_schema("NotificationPrefs", DEFAULT_NOTIFICATION_PREFS)
PrivacyPrefs = prefs_schema("PrivacyPrefs", DEFAULT_PRIVACY_PREFS)


class SettingsUpdate(StrictSchema):
    notification_prefs = m.fields.Nested(NotificationPrefs)
    privacy_prefs = m.fields.Nested(PrivacyPrefs)


class UserIdPath(m.Schema):
    user_id = m.fields.Integer(required=True, strict=False, validate=m.validate.Range(min=1, max=2**63 - 1))
