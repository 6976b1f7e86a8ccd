"""The ``[checkin]`` config section: every game number of the check-in plugin, with its default.

A check-in (live or made up) pays ``base_points``; the streak day it lands on may add a
:class:`StreakBonus` from ``bonuses``, keyed by the day of the cycle (1..``cycle_days``). Make-ups
("retroactive" check-ins) are limited by a window of past days and a count per local month, and
cost a make-up card (the item this plugin adds to the catalog) or, without one, points.
The rules that read these are in :mod:`mengchong_plugins.checkin.rules`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mengchong.economy.items import DESCRIPTION_MAX, NAME_MAX, item_id_problem


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreakBonus(_Model):
    """What a streak day pays on top of the base points: points, an item, or both."""

    points: int = Field(0, ge=0, description="extra points through the ledger")
    item_id: str | None = Field(
        None, description="an item of the item catalog granted to the inventory (none: no item)"
    )
    quantity: int = Field(1, ge=1, description="how many of item_id are granted")

    @field_validator("item_id")
    @classmethod
    def _item_id_well_formed(cls, value: str | None) -> str | None:
        if value is not None:
            problem = item_id_problem(value)
            if problem is not None:
                raise ValueError(f"{value!r}: {problem}")
        return value

    @model_validator(mode="after")
    def _pays_something(self) -> StreakBonus:
        if self.points == 0 and self.item_id is None:
            raise ValueError("a bonus needs points > 0 or an item_id")
        return self


DEFAULT_BONUSES: dict[int, StreakBonus] = {
    3: StreakBonus(points=20),
    7: StreakBonus(points=50, item_id="food.cake", quantity=1),
}


class CheckinSettings(_Model):
    """The ``[checkin]`` section of config.toml."""

    base_points: int = Field(10, gt=0, description="points of every check-in, live or made up")
    # Field order matters: `bonuses` is checked against `cycle_days`, which must come first.
    cycle_days: int = Field(7, ge=1, description="length of the bonus cycle, in streak days")
    restart_cycle: bool = Field(
        True,
        description="true: streak day cycle_days + 1 is bonus day 1 again; "
        "false: streak days past cycle_days pay no bonus",
    )
    bonuses: dict[int, StreakBonus] = Field(
        default_factory=lambda: dict(DEFAULT_BONUSES),
        description="bonus day (1..cycle_days) -> its extra points and/or item; "
        "make-up check-ins never get one",
    )
    preview_days: int = Field(
        7, ge=1, le=31, description="days of coming rewards the status shows if the streak continues"
    )
    retroactive_window_days: int = Field(
        7, ge=1, le=31, description="a make-up day is one of this many days before today"
    )
    retroactive_per_month: int = Field(
        3, ge=0, description="make-ups a user may do per local month (the month they are made in)"
    )
    retroactive_cost_points: int = Field(
        50, gt=0, description="points a make-up costs when the user holds no make-up card"
    )
    makeup_card_item: str = Field(
        "checkin.makeup_card",
        description="item id of the make-up card, added to the item catalog (type card)",
    )
    makeup_card_name: str = Field(
        "补签卡", min_length=1, max_length=NAME_MAX, description="the card's name the mini program shows"
    )
    makeup_card_description: str = Field(
        "补签一天", max_length=DESCRIPTION_MAX, description="a line the mini program shows"
    )

    @field_validator("bonuses")
    @classmethod
    def _bonus_days_in_cycle(
        cls, value: dict[int, StreakBonus], info: ValidationInfo
    ) -> dict[int, StreakBonus]:
        cycle_days: int | None = info.data.get("cycle_days")
        if cycle_days is None:
            return value  # `cycle_days` itself failed and is reported
        for day in value:
            if not 1 <= day <= cycle_days:
                raise ValueError(f"bonus day {day} is outside 1..cycle_days ({cycle_days})")
        return value

    @field_validator("makeup_card_item")
    @classmethod
    def _card_id_well_formed(cls, value: str) -> str:
        problem = item_id_problem(value)
        if problem is not None:
            raise ValueError(f"{value!r}: {problem}")
        return value

    @field_validator("makeup_card_name")
    @classmethod
    def _card_name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the card's name must not be blank")
        return value
