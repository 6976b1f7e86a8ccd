"""Request bodies and parameters of the notification routes (they also document /openapi.json),
and the schemas of what they answer."""

from __future__ import annotations

from typing import Any

import marshmallow as m

from mengchong.http.conventions import StrictSchema
from mengchong.http.pagination import PageQuery
from mengchong_plugins.notifications.grants import RESULTS
from mengchong_plugins.notifications.models import STATUSES
from mengchong_plugins.notifications.settings import KINDS, TEMPLATE_ID

TEMPLATES_PER_REQUEST = 20
DATA_FIELDS_MAX = 20
VALUE_MAX = 200
USER_ID = r"^[1-9][0-9]{0,18}$"
_ANCHORED_USER_ID = USER_ID.replace("$", r"\Z")  # "$" would let a trailing newline through

_template_id = m.fields.String(
    validate=m.validate.Regexp(
        f"^{TEMPLATE_ID.pattern}\\Z", error="a template id is 1-128 letters, digits, _ or -"
    ),
    metadata={"pattern": f"^{TEMPLATE_ID.pattern}$"},
)


class SubscriptionsBody(StrictSchema):
    template_ids = m.fields.List(
        _template_id,
        required=True,
        validate=m.validate.Length(min=1, max=TEMPLATES_PER_REQUEST),
        metadata={"description": "the template ids the mini program asked for in wx.requestSubscribeMessage"},
    )
    results = m.fields.Dict(
        keys=_template_id,
        values=m.fields.String(validate=m.validate.OneOf(RESULTS)),
        metadata={
            "description": "wx.requestSubscribeMessage's answer per template id; only accept grants "
            "a message, ban drops what was left (absent: every template id was accepted)"
        },
    )

    @m.validates_schema
    def _results_of_asked(self, data: dict[str, Any], **_: Any) -> None:
        extra = sorted(set(data.get("results", {})) - set(data.get("template_ids", [])))
        if extra:
            raise m.ValidationError(f"not in template_ids: {', '.join(extra)}", "results")


class Subscription(m.Schema):
    kind = m.fields.String(required=True, validate=m.validate.OneOf(KINDS))
    template_id = m.fields.String(required=True)
    count = m.fields.Integer(required=True, metadata={"description": "messages the user may still be sent"})
    max = m.fields.Integer(required=True, metadata={"description": "the most grants kept per template"})


class Subscriptions(m.Schema):
    subscriptions = m.fields.List(m.fields.Nested(Subscription), required=True)


class SendBody(StrictSchema):
    user_id = m.fields.String(
        required=True,
        validate=m.validate.Regexp(_ANCHORED_USER_ID, error="a user id is a string of digits"),
        metadata={"pattern": USER_ID},
    )
    kind = m.fields.String(required=True, validate=m.validate.OneOf(KINDS))
    data = m.fields.Dict(
        keys=m.fields.String(validate=m.validate.Length(min=1, max=40)),
        values=m.fields.String(validate=m.validate.Length(max=VALUE_MAX)),
        required=True,
        validate=m.validate.Length(min=1, max=DATA_FIELDS_MAX),
        metadata={
            "description": 'every data field of the kind\'s template and its value, e.g. {"thing1": "..."}'
        },
    )


class LogsQuery(PageQuery):
    class Meta:
        unknown = m.RAISE

    status = m.fields.String(
        validate=m.validate.OneOf(STATUSES), metadata={"description": "dead: the dead letters"}
    )
    kind = m.fields.String(validate=m.validate.OneOf(KINDS))
    user_id = m.fields.Integer(strict=False, validate=m.validate.Range(min=1, max=2**63 - 1))


class LogPath(StrictSchema):
    id = m.fields.Integer(strict=False, required=True, validate=m.validate.Range(min=1, max=2**63 - 1))


class Notification(m.Schema):
    id = m.fields.String(required=True)
    message_id = m.fields.String(required=True)
    user_id = m.fields.String(required=True)
    kind = m.fields.String(required=True)
    template_id = m.fields.String(required=True)
    page = m.fields.String(required=True)
    data = m.fields.Dict(keys=m.fields.String(), values=m.fields.String(), required=True)
    status = m.fields.String(required=True, validate=m.validate.OneOf(STATUSES))
    reason = m.fields.String(required=True)
    errcode = m.fields.Integer(required=True, allow_none=True)
    attempts = m.fields.Integer(required=True)
    created_at = m.fields.DateTime(required=True)
    updated_at = m.fields.DateTime(required=True)
    sent_at = m.fields.DateTime(required=True, allow_none=True)
