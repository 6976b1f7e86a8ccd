"""Request bodies and parameters of the check-in routes (they also document /openapi.json), and
the schemas of what the routes answer (seed §5.5)."""

from __future__ import annotations

from typing import Any

import marshmallow as m

from mengchong.http.conventions import IsoDate, StrictSchema
from mengchong.http.validation import pure_load

SEED_DATE_KEY = "date_to_补签"  # the seed's spelling of the make-up body's key, accepted too


class StatusQuery(StrictSchema):
    month = m.fields.String(metadata={"description": "YYYY-MM, not after this month (default: this month)"})


@pure_load
class CheckinBody(StrictSchema):
    """No fields: the day is today, in app.timezone."""


class MakeUpBody(StrictSchema):
    date = IsoDate(metadata={"description": "the missed day, YYYY-MM-DD"})
    date_to_bu_qian = IsoDate(data_key=SEED_DATE_KEY, metadata={"description": "the seed's name for `date`"})

    @m.validates_schema
    def _one_date(self, data: dict[str, Any], **_: Any) -> None:
        given = [key for key in ("date", "date_to_bu_qian") if key in data]
        if len(given) != 1:
            message = "give the day once, as `date`" if given else "missing: the day to make up"
            raise m.ValidationError(message, "date")


class Bonus(m.Schema):
    points = m.fields.Integer(required=True)
    item_id = m.fields.String(required=True, allow_none=True)
    quantity = m.fields.Integer(required=True)


class PreviewDay(m.Schema):
    day = m.fields.Integer(required=True, metadata={"description": "streak day number"})
    date = m.fields.Date(required=True)
    points = m.fields.Integer(required=True)
    bonus = m.fields.Nested(Bonus, required=True, allow_none=True)


class MakeUps(m.Schema):
    left_this_month = m.fields.Integer(required=True)
    per_month = m.fields.Integer(required=True)
    cost_points = m.fields.Integer(required=True, metadata={"description": "when no make-up card is held"})
    window_days = m.fields.Integer(required=True)
    makeup_card_item = m.fields.String(required=True)
    makeup_cards = m.fields.Integer(required=True, metadata={"description": "make-up cards the user holds"})


class Status(m.Schema):
    month = m.fields.String(required=True)
    today = m.fields.Date(required=True)
    today_checked_in = m.fields.Boolean(required=True)
    consecutive_days = m.fields.Integer(required=True)
    current_month_checkins = m.fields.List(m.fields.Date(), required=True)
    retroactive_dates = m.fields.List(m.fields.Date(), required=True)
    rewards_preview = m.fields.List(m.fields.Nested(PreviewDay), required=True)
    retroactive = m.fields.Nested(MakeUps, required=True)


class Checkin(m.Schema):
    date = m.fields.Date(required=True)
    reward_points = m.fields.Integer(required=True)
    consecutive_days = m.fields.Integer(required=True)
    bonus_reward = m.fields.Nested(Bonus, required=True, allow_none=True)
    balance = m.fields.Integer(required=True)


class MakeUp(Checkin):
    paid_with = m.fields.String(required=True, validate=m.validate.OneOf(["makeup_card", "points"]))
    cost_points = m.fields.Integer(required=True)
