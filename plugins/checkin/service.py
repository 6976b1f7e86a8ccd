"""Check-in, make-up days and the month's status: the rules applied to the user's logged days,
everything a check-in changes (log row, points, bonus item, event) in one transaction.

"One check-in a day" is the unique (user, day) constraint: the insert that loses answers 409.
A make-up locks the user's row first, so the month's make-up count and the payment are decided
one request at a time per user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong import plugin_settings
from mengchong.accounts.models import User
from mengchong.clock import local_day, start_of_local_day
from mengchong.economy.inventory import NotEnoughItems, consume_items, grant_items
from mengchong.economy.points import change_points
from mengchong.events import record_event
from mengchong.http.errors import ApiError, ErrorCode, FieldError, conflict
from mengchong.keys import clock_key, database_key, item_catalog_key, settings_key
from mengchong.storage.database import as_date, as_datetime, fetch_rows
from mengchong_plugins.checkin.events import CheckinCompleted
from mengchong_plugins.checkin.rules import (
    CheckinRefused,
    RetroactiveLimit,
    Reward,
    check_retroactive,
    consecutive_days,
    parse_month,
    retroactive_left,
    reward_for,
    rewards_preview,
    run_start,
    streak_through,
)
from mengchong_plugins.checkin.settings import CheckinSettings

LOOKBACK_DAYS = 400  # days read for a streak; a longer run is read again from its start
POINTS_REASON = "checkin"
BONUS_REASON = "checkin.bonus"
MAKEUP_REASON = "checkin.retroactive"

_DAYS = "SELECT day, retroactive, created_at FROM checkin_logs WHERE user_id = $1 AND day >= $2 ORDER BY day"
# The status in one statement: the user's days since $2 and, on every row (one row with no day
# when there is none), how many make-up cards they hold.
_DAYS_AND_CARDS = (
    "SELECT l.day, l.retroactive, l.created_at, "
    "(SELECT quantity FROM user_inventory WHERE user_id = $1 AND item_id = $3) AS cards "
    "FROM (SELECT 1) AS one LEFT JOIN checkin_logs AS l ON l.user_id = $1 AND l.day >= $2 ORDER BY l.day"
)
_INSERT = (
    "INSERT INTO checkin_logs (user_id, day, retroactive, reward_points, bonus_points, bonus_item_id, "
    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, day) DO NOTHING RETURNING id"
)


@dataclass(frozen=True)
class LoggedDay:
    retroactive: bool
    created_at: datetime


def checkin_settings(app: web.Application) -> CheckinSettings:
    return plugin_settings(app, CheckinSettings)


def _days_of(rows: list[dict[str, Any]]) -> dict[date, LoggedDay]:
    return {
        as_date(row["day"]): LoggedDay(bool(row["retroactive"]), as_datetime(row["created_at"]))
        for row in rows
        if row["day"] is not None
    }


async def logged_days(connection: BaseDBAsyncClient, user_id: int, since: date) -> dict[date, LoggedDay]:
    """The user's logged days from ``since`` on; when the earliest of them starts a run that may
    go on further back, read again from the beginning (rare: a streak of over a year)."""
    days = _days_of(await fetch_rows(connection, _DAYS, [user_id, since]))
    if since in days and since > date.min:
        return await logged_days(connection, user_id, date.min)
    return days


async def days_and_cards(
    connection: BaseDBAsyncClient, user_id: int, since: date, card_item: str
) -> tuple[dict[date, LoggedDay], int]:
    """:func:`logged_days` and how many ``card_item`` the user holds, in one statement."""
    rows = await fetch_rows(connection, _DAYS_AND_CARDS, [user_id, since, card_item])
    days, cards = _days_of(rows), int(rows[0]["cards"] or 0)
    if since in days and since > date.min:
        days = await logged_days(connection, user_id, date.min)
    return days, cards


def refused(exc: CheckinRefused | RetroactiveLimit) -> ApiError:
    if isinstance(exc, RetroactiveLimit):
        return ApiError(ErrorCode.LIMIT_REACHED, exc.message)
    return ApiError(ErrorCode.BAD_FIELD, exc.message, [FieldError(exc.field, exc.reason)])


def today_of(app: web.Application) -> tuple[date, datetime]:
    now = app[clock_key].now()
    return local_day(now, app[settings_key].app.timezone), now


def makeups_used(app: web.Application, days: dict[date, LoggedDay], today: date) -> int:
    """Make-ups made since the start of today's local month."""
    month_start = start_of_local_day(today.replace(day=1), app[settings_key].app.timezone)
    return sum(1 for logged in days.values() if logged.retroactive and logged.created_at >= month_start)


@dataclass(frozen=True)
class CheckinStatus:
    month: date  # its first day
    today: date
    today_checked_in: bool
    consecutive_days: int
    checkins: list[date]  # the month's, ascending
    retroactive_dates: list[date]
    preview: list[Reward]
    makeups_left: int
    makeup_cards: int
    settings: CheckinSettings


async def checkin_status(app: web.Application, user_id: int, month: str | None) -> CheckinStatus:
    """The month's calendar, today's state, the streak and what the next days would pay."""
    settings = checkin_settings(app)
    today, _ = today_of(app)
    try:
        first, last = parse_month(month, today)
    except CheckinRefused as exc:
        raise refused(exc) from None
    connection = app[database_key].connection
    since = min(first, today - timedelta(days=LOOKBACK_DAYS))
    days, cards = await days_and_cards(connection, user_id, since, settings.makeup_card_item)
    in_month = [day for day in sorted(days) if first <= day <= last]
    return CheckinStatus(
        month=first,
        today=today,
        today_checked_in=today in days,
        consecutive_days=consecutive_days(days.keys(), today),
        checkins=in_month,
        retroactive_dates=[day for day in in_month if days[day].retroactive],
        preview=rewards_preview(days.keys(), today, settings),
        makeups_left=retroactive_left(makeups_used(app, days, today), settings),
        makeup_cards=cards,
        settings=settings,
    )


@dataclass(frozen=True)
class CheckinResult:
    day: date
    reward: Reward
    consecutive_days: int
    balance: int
    paid_with: str | None = None
    cost_points: int = 0


async def _pay_out(
    app: web.Application,
    connection: BaseDBAsyncClient,
    user_id: int,
    day: date,
    reward: Reward,
    bonus_ref: str,
) -> int:
    """Grant the reward's points (and its bonus, if any) through the ledger; returns the balance."""
    balance = (
        await change_points(connection, user_id, reward.points, POINTS_REASON, day.isoformat())
    ).balance
    if reward.bonus is not None:
        if reward.bonus.points:
            changed = await change_points(connection, user_id, reward.bonus.points, BONUS_REASON, bonus_ref)
            balance = changed.balance
        if reward.bonus.item_id is not None:
            catalog = app[item_catalog_key]
            await grant_items(connection, catalog, user_id, reward.bonus.item_id, reward.bonus.quantity)
    return balance


async def _log(
    connection: BaseDBAsyncClient,
    user_id: int,
    day: date,
    reward: Reward,
    now: datetime,
    *,
    retroactive: bool,
) -> None:
    bonus = reward.bonus
    values = [
        user_id,
        day,
        retroactive,
        reward.points,
        bonus.points if bonus else 0,
        bonus.item_id if bonus else None,
        now,
    ]
    if not await fetch_rows(connection, _INSERT, values):
        raise conflict("Already checked in on that day" if retroactive else "Already checked in today")


async def check_in(app: web.Application, user_id: int) -> CheckinResult:
    """Today's check-in: one a day, its rewards and its event in one transaction."""
    settings = checkin_settings(app)
    today, now = today_of(app)
    async with app[database_key].transaction() as connection:
        days = set(await logged_days(connection, user_id, today - timedelta(days=LOOKBACK_DAYS)))
        if today in days:
            raise conflict("Already checked in today")
        days.add(today)
        streak = streak_through(days, today)
        reward = reward_for(streak, settings)
        await _log(connection, user_id, today, reward, now, retroactive=False)
        balance = await _pay_out(
            app, connection, user_id, today, reward, f"{run_start(days, today)}:{streak}"
        )
        result = CheckinResult(today, reward, streak, balance)
        await record_event(connection, completed_event(user_id, result, retroactive=False))
    return result


async def make_up(app: web.Application, user_id: int, day: date) -> CheckinResult:
    """A make-up day: paid with a make-up card when the user holds one, else with points."""
    settings = checkin_settings(app)
    today, now = today_of(app)
    async with app[database_key].transaction() as connection:
        # The user's row locked (values_list() would drop select_for_update): make-ups of one
        # user are counted and paid one at a time.
        await User.filter(id=user_id).select_for_update().using_db(connection).first()
        logged = await logged_days(connection, user_id, today - timedelta(days=LOOKBACK_DAYS))
        try:
            check_retroactive(day, today, makeups_used(app, logged, today), settings)
        except (CheckinRefused, RetroactiveLimit) as exc:
            raise refused(exc) from None
        if day in logged:
            raise conflict("Already checked in on that day")
        days = {*logged, day}
        reward = reward_for(streak_through(days, day), settings, retroactive=True)
        await _log(connection, user_id, day, reward, now, retroactive=True)
        try:
            await consume_items(connection, user_id, settings.makeup_card_item, 1)
            paid_with, cost = "makeup_card", 0
        except NotEnoughItems:
            cost = settings.retroactive_cost_points
            await change_points(connection, user_id, -cost, MAKEUP_REASON, day.isoformat())
            paid_with = "points"
        balance = await _pay_out(app, connection, user_id, day, reward, "")
        result = CheckinResult(day, reward, consecutive_days(days, today), balance, paid_with, cost)
        await record_event(connection, completed_event(user_id, result, retroactive=True))
    return result


def completed_event(user_id: int, result: CheckinResult, *, retroactive: bool) -> CheckinCompleted:
    bonus = result.reward.bonus
    return CheckinCompleted(
        user_id=user_id,
        date=result.day.isoformat(),
        retroactive=retroactive,
        consecutive_days=result.consecutive_days,
        reward_points=result.reward.points,
        bonus_points=bonus.points if bonus else 0,
        bonus_item_id=bonus.item_id if bonus else None,
        balance=result.balance,
    )
