"""Fast tests of the check-in rules (streaks, rewards, months, make-up limits) and settings."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError

from mengchong.config_loading import format_validation_error
from mengchong_plugins.checkin.rules import (
    Bonus,
    CheckinRefused,
    RetroactiveLimit,
    Reward,
    bonus_day,
    check_retroactive,
    consecutive_days,
    parse_month,
    retroactive_left,
    reward_for,
    rewards_preview,
    run_start,
    streak_through,
)
from mengchong_plugins.checkin.settings import CheckinSettings, StreakBonus

S = CheckinSettings()
TODAY = date(2026, 3, 15)
CAKE = Bonus(points=50, item_id="food.cake", quantity=1)


def day(offset: int) -> date:
    """TODAY plus ``offset`` days."""
    return TODAY + timedelta(days=offset)


def days(*offsets: int) -> set[date]:
    return {day(offset) for offset in offsets}


def settings(**values: object) -> CheckinSettings:
    return CheckinSettings.model_validate(values)


def refusal(exc: pytest.ExceptionInfo[CheckinRefused]) -> tuple[str, str]:
    return exc.value.field, exc.value.reason


# --- streaks -------------------------------------------------------------------------------------


def test_streak_through_counts_the_run_ending_at_the_day() -> None:
    dates = days(-6, -4, -3, -2, 0)
    assert streak_through(dates, day(-2)) == 3
    assert streak_through(dates, day(-3)) == 2  # only the part of the run up to the day
    assert streak_through(dates, day(-6)) == 1
    assert streak_through(dates, day(0)) == 1
    assert streak_through(dates, day(-1)) == 0  # not checked in
    assert streak_through(set(), TODAY) == 0


def test_streak_through_crosses_month_and_year_ends() -> None:
    dates = {date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 28), date(2026, 3, 1)}
    assert streak_through(dates, date(2026, 1, 1)) == 3
    assert streak_through(dates, date(2026, 3, 1)) == 2  # 2026 is no leap year


def test_a_long_streak_is_counted_in_full() -> None:
    year = {day(-offset) for offset in range(400)}
    assert streak_through(year, TODAY) == 400
    assert consecutive_days(year - {TODAY}, TODAY) == 399
    assert run_start(year, TODAY) == day(-399)
    assert reward_for(400, S).bonus == reward_for(400 % 7, S).bonus  # day 400 is bonus day 1


def test_streak_accepts_any_collection_with_duplicates() -> None:
    as_list = [day(-1), day(0), day(-1), day(-2)]
    assert streak_through(as_list, TODAY) == 3
    assert streak_through({d: None for d in as_list}.keys(), TODAY) == 3
    assert consecutive_days(tuple(as_list), TODAY) == 3


def test_run_start_is_the_first_day_of_the_run() -> None:
    dates = days(-6, -4, -3, -2, 0)
    assert run_start(dates, day(-3)) == day(-4)
    assert run_start(dates, day(-4)) == day(-4)
    assert run_start(dates, day(-2)) == day(-4)
    assert run_start(dates, TODAY) == TODAY
    with pytest.raises(ValueError, match="not one of the dates"):
        run_start(dates, day(-1))


def test_consecutive_days_through_today_when_checked_in() -> None:
    assert consecutive_days(days(-2, -1, 0), TODAY) == 3


def test_consecutive_days_through_yesterday_when_today_is_not_checked_in() -> None:
    assert consecutive_days(days(-2, -1), TODAY) == 2
    assert consecutive_days(days(-1), TODAY) == 1


def test_consecutive_days_is_zero_after_a_missed_day() -> None:
    assert consecutive_days(days(-3, -2), TODAY) == 0
    assert consecutive_days(set(), TODAY) == 0
    assert consecutive_days(days(1), TODAY) == 0  # a future date continues nothing


def test_a_filled_gap_joins_the_runs_on_both_sides() -> None:
    dates = days(-3, -2, 0)
    assert consecutive_days(dates, TODAY) == 1
    assert consecutive_days(dates | days(-1), TODAY) == 4


@pytest.mark.parametrize("bad", [datetime(2026, 3, 15, 12, 0), "2026-03-15", None])
def test_days_must_be_dates(bad: object) -> None:
    with pytest.raises(TypeError, match="must be a date"):
        streak_through(days(0), bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a date"):
        consecutive_days(days(0), bad)  # type: ignore[arg-type]


# --- rewards -------------------------------------------------------------------------------------


def test_default_rewards_of_the_first_cycle() -> None:
    points = [reward_for(n, S).points for n in range(1, 8)]
    bonuses = [reward_for(n, S).bonus for n in range(1, 8)]
    assert points == [10] * 7
    assert bonuses == [None, None, Bonus(20, None, 1), None, None, None, CAKE]
    assert reward_for(7, S) == Reward(day=7, points=10, bonus=CAKE)


def test_cycle_restarts_after_cycle_days() -> None:
    assert bonus_day(7, S) == 7
    assert bonus_day(8, S) == 1
    assert bonus_day(14, S) == 7
    assert reward_for(8, S) == Reward(day=8, points=10, bonus=None)  # day is absolute
    assert reward_for(10, S).bonus == Bonus(20, None, 1)
    assert reward_for(14, S).bonus == CAKE
    assert reward_for(21, S).bonus == CAKE


def test_without_restart_days_past_the_cycle_have_no_bonus() -> None:
    once = settings(restart_cycle=False)
    assert bonus_day(7, once) == 7
    assert bonus_day(8, once) is None
    assert reward_for(7, once).bonus == CAKE
    assert reward_for(8, once) == Reward(day=8, points=10, bonus=None)
    assert reward_for(10, once).bonus is None
    assert reward_for(14, once).bonus is None


def test_a_cycle_of_one_day_pays_its_bonus_every_day() -> None:
    daily = settings(cycle_days=1, bonuses={1: {"points": 5}})
    assert [reward_for(n, daily).bonus for n in (1, 2, 30)] == [Bonus(5, None, 1)] * 3


def test_a_make_up_day_never_gets_a_bonus() -> None:
    assert reward_for(3, S, retroactive=True) == Reward(day=3, points=10, bonus=None)
    assert reward_for(7, S, retroactive=True).bonus is None
    assert reward_for(7, S, retroactive=False).bonus == CAKE


def test_rewards_follow_the_configured_numbers() -> None:
    tuned = settings(base_points=3, bonuses={2: {"item_id": "checkin.makeup_card", "quantity": 2}})
    assert reward_for(2, tuned) == Reward(day=2, points=3, bonus=Bonus(0, "checkin.makeup_card", 2))
    assert reward_for(3, tuned) == Reward(day=3, points=3, bonus=None)


@pytest.mark.parametrize("streak_day", [0, -1])
def test_streak_days_start_at_one(streak_day: int) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        reward_for(streak_day, S)


def test_preview_from_tomorrow_when_today_is_checked_in() -> None:
    preview = rewards_preview(days(-1, 0), TODAY, S)  # streak 2: tomorrow is day 3
    assert [reward.day for reward in preview] == [3, 4, 5, 6, 7, 8, 9]
    assert preview[0].bonus == Bonus(20, None, 1)
    assert preview[4].bonus == CAKE
    assert all(reward.points == 10 for reward in preview)


def test_preview_from_today_when_today_is_not_checked_in() -> None:
    assert [r.day for r in rewards_preview(days(-2, -1), TODAY, S)] == [3, 4, 5, 6, 7, 8, 9]
    assert [r.day for r in rewards_preview(days(-3), TODAY, S)] == [1, 2, 3, 4, 5, 6, 7]  # broken
    assert rewards_preview(set(), TODAY, S)[2].bonus == Bonus(20, None, 1)


def test_preview_length_is_preview_days() -> None:
    assert len(rewards_preview(set(), TODAY, settings(preview_days=1))) == 1
    assert len(rewards_preview(set(), TODAY, settings(preview_days=31))) == 31


def test_preview_shows_no_bonus_past_a_cycle_that_does_not_restart() -> None:
    preview = rewards_preview(days(-5, -4, -3, -2, -1, 0), TODAY, settings(restart_cycle=False))
    assert [(r.day, r.bonus) for r in preview[:3]] == [(7, CAKE), (8, None), (9, None)]


# --- months --------------------------------------------------------------------------------------


def test_month_defaults_to_todays() -> None:
    assert parse_month(None, TODAY) == (date(2026, 3, 1), date(2026, 3, 31))


@pytest.mark.parametrize(
    ("value", "bounds"),
    [
        ("2026-03", (date(2026, 3, 1), date(2026, 3, 31))),  # this month
        ("2026-02", (date(2026, 2, 1), date(2026, 2, 28))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2025-12", (date(2025, 12, 1), date(2025, 12, 31))),
        ("2025-04", (date(2025, 4, 1), date(2025, 4, 30))),
    ],
)
def test_month_bounds(value: str, bounds: tuple[date, date]) -> None:
    assert parse_month(value, TODAY) == bounds


@pytest.mark.parametrize(
    "value",
    ["2026-13", "2026-00", "2026-1", "26-03", "abc", "", "2026-03-01", "2026/03", " 2026-03", "2026-03\n",
     "０２０２-０３", "0000-01", "+202-03"],
)  # fmt: skip
def test_malformed_months_are_refused(value: str) -> None:
    with pytest.raises(CheckinRefused) as exc:
        parse_month(value, TODAY)
    assert refusal(exc) == ("month", "malformed")


@pytest.mark.parametrize("value", ["2026-04", "2027-01", "2027-03"])
def test_months_after_todays_are_refused(value: str) -> None:
    with pytest.raises(CheckinRefused) as exc:
        parse_month(value, TODAY)
    assert refusal(exc) == ("month", "future")


def test_next_month_is_refused_on_the_last_day_of_the_year() -> None:
    with pytest.raises(CheckinRefused):
        parse_month("2027-01", date(2026, 12, 31))
    assert parse_month("2026-12", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


# --- make-ups ------------------------------------------------------------------------------------


def test_make_up_window_is_exactly_n_days_back() -> None:
    check_retroactive(day(-7), TODAY, 0, S)  # the oldest allowed
    check_retroactive(day(-1), TODAY, 0, S)
    with pytest.raises(CheckinRefused) as exc:
        check_retroactive(day(-8), TODAY, 0, S)
    assert refusal(exc) == ("date", "outside_window")
    assert exc.value.message == "date must be within the last 7 days"


def test_make_up_window_follows_the_setting() -> None:
    one = settings(retroactive_window_days=1)
    check_retroactive(day(-1), TODAY, 0, one)
    with pytest.raises(CheckinRefused):
        check_retroactive(day(-2), TODAY, 0, one)


@pytest.mark.parametrize("offset", [0, 1, 40])
def test_make_up_of_today_or_the_future_is_refused(offset: int) -> None:
    with pytest.raises(CheckinRefused) as exc:
        check_retroactive(day(offset), TODAY, 0, S)
    assert refusal(exc) == ("date", "not_past")
    assert exc.value.message == "date must be a past day"


def test_month_limit_at_n_minus_one_and_n() -> None:
    check_retroactive(day(-1), TODAY, 2, S)  # the third of three
    with pytest.raises(RetroactiveLimit):
        check_retroactive(day(-1), TODAY, 3, S)
    with pytest.raises(RetroactiveLimit):
        check_retroactive(day(-1), TODAY, 0, settings(retroactive_per_month=0))


def test_a_bad_date_is_reported_before_the_limit() -> None:
    with pytest.raises(CheckinRefused):
        check_retroactive(day(0), TODAY, 3, S)
    with pytest.raises(CheckinRefused):
        check_retroactive(day(-8), TODAY, 3, S)


def test_make_ups_left() -> None:
    assert [retroactive_left(used, S) for used in (0, 1, 2, 3, 4)] == [3, 2, 1, 0, 0]
    assert retroactive_left(0, settings(retroactive_per_month=0)) == 0


def test_refusals_carry_their_http_status() -> None:
    assert CheckinRefused.http_status == 400
    assert RetroactiveLimit.http_status == 422


# --- settings ------------------------------------------------------------------------------------


def test_default_settings() -> None:
    assert (S.base_points, S.cycle_days, S.restart_cycle, S.preview_days) == (10, 7, True, 7)
    assert S.bonuses == {3: StreakBonus(points=20), 7: StreakBonus(points=50, item_id="food.cake")}
    assert (S.retroactive_window_days, S.retroactive_per_month, S.retroactive_cost_points) == (7, 3, 50)
    assert (S.makeup_card_item, S.makeup_card_name, S.makeup_card_description) == (
        "checkin.makeup_card",
        "补签卡",
        "补签一天",
    )


def test_every_field_has_a_description() -> None:
    for model in (CheckinSettings, StreakBonus):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name}"


def test_bonus_keys_from_toml_are_read_as_days() -> None:
    tuned = settings(bonuses={"2": {"points": 5}})
    assert tuned.bonuses == {2: StreakBonus(points=5)}


def error_of(**values: object) -> str:
    with pytest.raises(ValidationError) as exc:
        CheckinSettings.model_validate(values)
    return format_validation_error(exc.value, "checkin.")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bonuses": {8: {"points": 1}}}, "checkin.bonuses: bonus day 8 is outside 1..cycle_days (7)"),
        ({"bonuses": {0: {"points": 1}}}, "checkin.bonuses: bonus day 0 is outside 1..cycle_days (7)"),
        ({"cycle_days": 3, "bonuses": {7: {"points": 1}}}, "bonus day 7 is outside 1..cycle_days (3)"),
        ({"bonuses": {3: {}}}, "checkin.bonuses.3: a bonus needs points > 0 or an item_id"),
        ({"bonuses": {3: {"points": 0}}}, "a bonus needs points > 0 or an item_id"),
        (
            {"bonuses": {3: {"item_id": "Food Cake"}}},
            "checkin.bonuses.3.item_id: 'Food Cake': item id must be",
        ),
        ({"bonuses": {3: {"points": -1}}}, "checkin.bonuses.3.points"),
        ({"bonuses": {3: {"item_id": "food.cake", "quantity": 0}}}, "checkin.bonuses.3.quantity"),
        ({"bonuses": {3: {"points": 1, "gift": 2}}}, "checkin.bonuses.3.gift: unknown key"),
        ({"base_points": 0}, "checkin.base_points"),
        ({"cycle_days": 0}, "checkin.cycle_days"),
        ({"preview_days": 0}, "checkin.preview_days"),
        ({"preview_days": 32}, "checkin.preview_days"),
        ({"retroactive_window_days": 0}, "checkin.retroactive_window_days"),
        ({"retroactive_window_days": 32}, "checkin.retroactive_window_days"),
        ({"retroactive_per_month": -1}, "checkin.retroactive_per_month"),
        ({"retroactive_cost_points": 0}, "checkin.retroactive_cost_points"),
        ({"makeup_card_item": "补签卡"}, "checkin.makeup_card_item: '补签卡': item id must be"),
        ({"makeup_card_name": "  "}, "checkin.makeup_card_name: the card's name must not be blank"),
        ({"makeup_card_name": "x" * 33}, "checkin.makeup_card_name"),
        ({"makeup_card_description": "x" * 201}, "checkin.makeup_card_description"),
        ({"bonus": {}}, "checkin.bonus: unknown key"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(values: dict[str, object], message: str) -> None:
    assert message in error_of(**values)


def test_settings_edges_that_are_allowed() -> None:
    edges = settings(
        cycle_days=1,
        bonuses={1: {"item_id": "checkin.makeup_card"}},
        preview_days=31,
        retroactive_window_days=31,
        retroactive_per_month=0,
        makeup_card_description="",
    )
    assert edges.bonuses[1] == StreakBonus(points=0, item_id="checkin.makeup_card", quantity=1)
    assert settings(bonuses={}).bonuses == {}


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        S.base_points = 5  # type: ignore[misc]
