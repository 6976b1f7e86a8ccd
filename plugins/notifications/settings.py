"""The ``[notifications]`` config section: the WeChat subscribe-message templates of each kind of
notification, how their data fields are built, and the numbers of consent, retries and the
daily reminder.

A kind is sent only when its ``template_id`` is set (the ids come from the mini program's
subscribe-message console; empty: the kind is off). Each data field is a format string over the
kind's context (:data:`CONTEXT_KEYS`), e.g. ``thing1 = "{pet_name}饿了"``; WeChat's field rules are
enforced when a message is built (:mod:`mengchong_plugins.notifications.fields`).
"""

from __future__ import annotations

import re
from datetime import time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mengchong.accounts.schemas import DEFAULT_NOTIFICATION_PREFS
from mengchong_plugins.notifications.fields import FieldError, check_template

KINDS = ("checkin_reward", "order_completed", "pet_hungry", "streak_reminder")

CONTEXT_KEYS: dict[str, frozenset[str]] = {
    "checkin_reward": frozenset(
        {"date", "reward_points", "bonus_points", "consecutive_days", "balance", "time"}
    ),
    "order_completed": frozenset(
        {"order_id", "product_name", "quantity", "points_deducted", "balance", "time"}
    ),
    "pet_hungry": frozenset({"pet_id", "pet_name", "hunger", "time"}),
    "streak_reminder": frozenset({"date", "time"}),
}
"""What each kind's field format strings may use: the event's values, and ``time``, the local
time the notification was made (``YYYY-MM-DD HH:MM``)."""

TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Template(_Model):
    """One kind of notification: its WeChat template, the page it opens, its fields, its switch."""

    template_id: str = Field("", description="the subscribe-message template id (empty: this kind is off)")
    page: str = Field("", max_length=256, description="the mini program page the message opens (empty: none)")
    pref: str = Field(
        description="the user's notification_prefs key that turns this kind off when false",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="WeChat data field (thing1, number2, ...) -> format string over the kind's context",
    )

    @field_validator("template_id")
    @classmethod
    def _template_id_well_formed(cls, value: str) -> str:
        if value and not TEMPLATE_ID.fullmatch(value):
            raise ValueError("a template id is 1-128 letters, digits, _ or -")
        return value

    @field_validator("pref")
    @classmethod
    def _pref_known(cls, value: str) -> str:
        if value not in DEFAULT_NOTIFICATION_PREFS:
            known = ", ".join(sorted(DEFAULT_NOTIFICATION_PREFS))
            raise ValueError(f"{value!r} is not a notification pref (known: {known})")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.template_id)


DEFAULT_TEMPLATES: dict[str, Template] = {
    "checkin_reward": Template(
        pref="checkin_reminder",
        page="pages/checkin/index",
        fields={
            "thing1": "签到成功，获得{reward_points}积分",
            "number2": "{consecutive_days}",
            "date3": "{date}",
        },
    ),
    "order_completed": Template(
        pref="activity_push",
        page="pages/mall/orders",
        fields={
            "character_string1": "{order_id}",
            "thing2": "{product_name} x{quantity}",
            "number3": "{points_deducted}",
            "time4": "{time}",
        },
    ),
    "pet_hungry": Template(
        pref="pet_status_alert",
        page="pages/pet/index",
        fields={"thing1": "{pet_name}饿了，快来喂喂它", "number2": "{hunger}", "time3": "{time}"},
    ),
    "streak_reminder": Template(
        pref="checkin_reminder",
        page="pages/checkin/index",
        fields={"thing1": "今天还没有签到哦，别让连续签到断了", "date2": "{date}"},
    ),
}


class NotificationsSettings(_Model):
    """The ``[notifications]`` section of config.toml."""

    templates: dict[str, Template] = Field(
        default_factory=lambda: dict(DEFAULT_TEMPLATES),
        description="kind (checkin_reward, order_completed, pet_hungry, streak_reminder) -> its template",
    )
    max_grants: int = Field(
        50, ge=1, le=1000, description="grants (accepted subscriptions) a user may hold per template"
    )
    hunger_threshold: int = Field(
        30,
        ge=0,
        le=100,
        description="pet_hungry when an interaction leaves satiety below this (once a day a pet)",
    )
    reminder_time: time = Field(
        time(20, 0), description='local time (app.timezone) of the daily check-in reminder, "HH:MM"'
    )
    reminder_batch: int = Field(500, ge=1, le=10_000, description="users the reminder job reads at a time")
    reminder_poll_seconds: float = Field(
        30.0, gt=0, description="how often the reminder job looks at the clock"
    )
    keep_days: int = Field(90, ge=1, description="notification logs are kept this many days")

    @field_validator("templates", mode="before")
    @classmethod
    def _over_defaults(cls, value: object) -> object:
        """A kind given in config.toml keeps the defaults of the keys it does not set."""
        if not isinstance(value, dict):
            return value
        merged: dict[str, object] = {
            kind: template.model_dump() for kind, template in DEFAULT_TEMPLATES.items()
        }
        for kind, given in value.items():
            base = merged.get(kind)
            if isinstance(given, dict) and isinstance(base, dict):
                merged[kind] = {**base, **given}
            else:
                merged[kind] = given
        return merged

    @model_validator(mode="after")
    def _templates_valid(self) -> NotificationsSettings:
        for kind, template in self.templates.items():
            if kind not in KINDS:
                raise ValueError(f"templates.{kind}: unknown kind (known: {', '.join(KINDS)})")
            try:
                check_template(template.fields, set(CONTEXT_KEYS[kind]))
            except FieldError as exc:
                raise ValueError(f"templates.{kind}.fields: {exc.reason}") from None
            if template.enabled and not template.fields:
                raise ValueError(f"templates.{kind}: a template with an id needs its fields")
        ids = [t.template_id for t in self.templates.values() if t.enabled]
        if len(ids) != len(set(ids)):
            raise ValueError("templates: two kinds share a template_id (grants are counted per template)")
        return self

    def template_of(self, template_id: str) -> tuple[str, Template] | None:
        """The kind and template of a configured template id."""
        for kind, template in self.templates.items():
            if template.enabled and template.template_id == template_id:
                return kind, template
        return None
