"""The check-in rules: streaks, rewards, the month calendar, make-up ("retroactive") limits.

Pure functions with no I/O and no clock: the caller passes ``today``, the user's local day
(:func:`mengchong.clock.local_day`). A streak is a function of the set of checked-in dates alone
(live and made-up days count alike), so the order they were written in never matters and a
filled gap joins the runs on both sides. Every number comes from :class:`CheckinSettings`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar, Literal

from mengchong_plugins.checkin.settings import CheckinSettings

ONE_DAY = timedelta(days=1)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # not \d: it also matches non-ASCII digits

RefusedField = Literal["date", "month"]
RefusedReason = Literal["not_past", "outside_window", "malformed", "future"]


class CheckinRefused(Exception):
    """The request can't be carried out as asked; ``field`` names the request field to blame."""

    http_status: ClassVar[int] = 400

    def __init__(self, field: RefusedField, reason: RefusedReason, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason
        self.message = message


class RetroactiveLimit(Exception):
    """The user has used this month's make-ups."""

    http_status: ClassVar[int] = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Bonus:
    """A streak bonus as paid: ``points`` through the ledger, ``quantity`` of ``item_id`` if any."""

    points: int
    item_id: str | None
    quantity: int


@dataclass(frozen=True)
class Reward:
    """What a check-in on streak day ``day`` (1-based, absolute, not the cycle's) pays."""

    day: int
    points: int
    bonus: Bonus | None


def streak_through(dates: Collection[date], day: date) -> int:
    """Length of the run of consecutive dates ending at ``day``; 0 when ``day`` is not in ``dates``."""
    _require_date(day, "day")
    days = _as_set(dates)
    length = 0
    while day - length * ONE_DAY in days:
        length += 1
    return length


def run_start(dates: Collection[date], day: date) -> date:
    """The first day of the run of consecutive dates that contains ``day`` (which must be in ``dates``)."""
    length = streak_through(dates, day)
    if length == 0:
        raise ValueError(f"{day.isoformat()} is not one of the dates")
    return day - (length - 1) * ONE_DAY


def consecutive_days(dates: Collection[date], today: date) -> int:
    """The streak today's check-in continues: through today if checked in, else through yesterday."""
    days = _as_set(dates)
    if _require_date(today, "today") in days:
        return streak_through(days, today)
    return streak_through(days, today - ONE_DAY)


def bonus_day(streak_day: int, settings: CheckinSettings) -> int | None:
    """The day of the bonus cycle streak day ``streak_day`` falls on; None past the cycle when it
    does not restart."""
    if streak_day < 1:
        raise ValueError(f"a streak day is 1 or more, got {streak_day}")
    if settings.restart_cycle:
        return (streak_day - 1) % settings.cycle_days + 1
    return streak_day if streak_day <= settings.cycle_days else None


def reward_for(streak_day: int, settings: CheckinSettings, *, retroactive: bool = False) -> Reward:
    """The base points, plus the bonus of the streak day's bonus day; a make-up day never gets a
    bonus, so filling a gap can't pay a streak day's bonus a second time."""
    cycle_day = bonus_day(streak_day, settings)
    configured = None if retroactive or cycle_day is None else settings.bonuses.get(cycle_day)
    bonus = (
        None
        if configured is None
        else Bonus(points=configured.points, item_id=configured.item_id, quantity=configured.quantity)
    )
    return Reward(day=streak_day, points=settings.base_points, bonus=bonus)


def rewards_preview(dates: Collection[date], today: date, settings: CheckinSettings) -> list[Reward]:
    """The next ``preview_days`` rewards if the streak continues: from tomorrow when today is
    checked in, else from today. The i-th is for the first day + i."""
    days = _as_set(dates)
    first = consecutive_days(days, today) + 1
    return [reward_for(first + offset, settings) for offset in range(settings.preview_days)]


def parse_month(value: str | None, today: date) -> tuple[date, date]:
    """The first and last day of month ``"YYYY-MM"`` (None: today's month). A malformed month or
    one after today's is refused, naming ``month``."""
    _require_date(today, "today")
    if value is None:
        year, month = today.year, today.month
    else:
        match = _MONTH.fullmatch(value)
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise CheckinRefused("month", "malformed", "month must be YYYY-MM, e.g. 2026-03")
        year, month = int(match[1]), int(match[2])
        if (year, month) > (today.year, today.month):
            raise CheckinRefused("month", "future", "month must not be after the current month")
    first = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, following - ONE_DAY


def check_retroactive(day: date, today: date, used_this_month: int, settings: CheckinSettings) -> None:
    """Refuse a make-up of ``day``: not a past day or outside the window (naming ``date``), or the
    month's make-ups used up (:class:`RetroactiveLimit`). Returns None when it may go ahead."""
    _require_date(day, "day")
    _require_date(today, "today")
    if day >= today:
        raise CheckinRefused("date", "not_past", "date must be a past day")
    window = settings.retroactive_window_days
    if day < today - window * ONE_DAY:
        raise CheckinRefused("date", "outside_window", f"date must be within the last {window} days")
    if used_this_month >= settings.retroactive_per_month:
        raise RetroactiveLimit(
            f"all {settings.retroactive_per_month} make-up check-ins of this month are used"
        )


def retroactive_left(used_this_month: int, settings: CheckinSettings) -> int:
    """Make-ups the user may still do this month."""
    return max(settings.retroactive_per_month - used_this_month, 0)


def _as_set(dates: Collection[date]) -> AbstractSet[date]:
    return dates if isinstance(dates, AbstractSet) else frozenset(dates)


def _require_date(value: date, name: str) -> date:
    # A datetime is a date subclass that never equals one: it would silently match nothing.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date, got {type(value).__name__}")
    return value
