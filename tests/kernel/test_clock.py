"""The kernel's clock and local days: midnight on either side, ISO weeks at the year's end, DST
days of 23 and 25 hours, a DST gap at midnight, and naive datetimes refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mengchong.clock import (
    ManualClock,
    SystemClock,
    local_day,
    local_iso_week,
    local_month,
    seconds_until_next_local_day,
    start_of_local_day,
)

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"
TICK = timedelta(microseconds=1)


def at(zone: str, *fields: int) -> datetime:
    """A wall time in ``zone``, as a UTC instant."""
    return datetime(*fields, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_the_system_clock_is_utc_and_now() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_a_manual_clock_stands_still_until_set_or_advanced() -> None:
    start = datetime(2026, 5, 1, 8, 0, tzinfo=ZoneInfo(SHANGHAI))
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.now().tzinfo is UTC
    assert clock.now() == clock.now()
    assert clock.advance(timedelta(hours=1)) == start + timedelta(hours=1)
    assert clock.advance(1.5) == start + timedelta(hours=1, seconds=1.5)
    assert clock.now() == start + timedelta(hours=1, seconds=1.5)
    earlier = datetime(2020, 1, 1, tzinfo=UTC)
    assert clock.set(earlier) == earlier
    assert clock.now() == earlier


def test_a_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="start must be"):
        ManualClock(datetime(2026, 5, 1))
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="moment must be"):
        clock.set(datetime(2026, 5, 2))
    assert clock.now() == datetime(2026, 5, 1, tzinfo=UTC)


def test_the_local_day_turns_at_local_midnight() -> None:
    midnight = datetime(2024, 3, 1, 16, 0, tzinfo=UTC)  # 2024-03-02 00:00 in Shanghai
    assert local_day(midnight - TICK, SHANGHAI) == date(2024, 3, 1)
    assert local_day(midnight, SHANGHAI) == date(2024, 3, 2)
    assert local_day(midnight, "UTC") == date(2024, 3, 1)
    assert local_day(midnight, NEW_YORK) == date(2024, 3, 1)
    # The zone of the instant given does not matter, only the instant.
    assert local_day(midnight.astimezone(ZoneInfo(NEW_YORK)), SHANGHAI) == date(2024, 3, 2)
    assert seconds_until_next_local_day(midnight - timedelta(seconds=1), SHANGHAI) == 1
    assert seconds_until_next_local_day(midnight, SHANGHAI) == 86400
    assert start_of_local_day(date(2024, 3, 2), SHANGHAI) == midnight


def test_the_month_turns_at_local_midnight() -> None:
    new_year = at(SHANGHAI, 2027, 1, 1)  # 2026-12-31 16:00 UTC
    assert local_month(new_year - TICK, SHANGHAI) == "2026-12"
    assert local_month(new_year, SHANGHAI) == "2027-01"
    assert local_month(new_year, "UTC") == "2026-12"
    assert local_month(at(NEW_YORK, 2026, 10, 31, 23, 59, 59), NEW_YORK) == "2026-10"
    assert local_month(at(NEW_YORK, 2026, 11, 1), NEW_YORK) == "2026-11"


@pytest.mark.parametrize(
    ("wall", "week"),
    [
        ((2026, 12, 28), "2026-W53"),  # Monday
        ((2026, 12, 31, 23, 59, 59), "2026-W53"),
        ((2027, 1, 1), "2026-W53"),  # a Friday: the week of 2026's last Thursday
        ((2027, 1, 3, 23, 59, 59), "2026-W53"),  # Sunday ends the week
        ((2027, 1, 4), "2027-W01"),  # Monday starts the next
        ((2025, 12, 28, 23, 59, 59), "2025-W52"),
        ((2025, 12, 29), "2026-W01"),  # 2026's week 1 starts in 2025
        ((2026, 3, 2), "2026-W10"),
    ],
)
def test_iso_weeks_at_the_years_end(wall: tuple[int, ...], week: str) -> None:
    assert local_iso_week(at(SHANGHAI, *wall), SHANGHAI) == week


def test_the_iso_week_is_the_local_one() -> None:
    monday = at(SHANGHAI, 2027, 1, 4)  # 2027-01-03 16:00 UTC, still Sunday in UTC
    assert local_iso_week(monday - TICK, SHANGHAI) == "2026-W53"
    assert local_iso_week(monday, SHANGHAI) == "2027-W01"
    assert local_iso_week(monday, "UTC") == "2026-W53"


def test_dst_days_of_23_and_25_hours() -> None:
    spring, autumn = date(2026, 3, 8), date(2026, 11, 1)  # New York's DST changes, at 02:00
    assert start_of_local_day(spring, NEW_YORK) == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert start_of_local_day(spring + timedelta(days=1), NEW_YORK) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert start_of_local_day(autumn, NEW_YORK) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert start_of_local_day(autumn + timedelta(days=1), NEW_YORK) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)

    short, long = start_of_local_day(spring, NEW_YORK), start_of_local_day(autumn, NEW_YORK)
    assert seconds_until_next_local_day(short, NEW_YORK) == 23 * 3600
    assert seconds_until_next_local_day(long, NEW_YORK) == 25 * 3600
    # The hour lost or gained is at 02:00: from noon, 12 hours are left either way; before it,
    # the day's whole length counts.
    assert seconds_until_next_local_day(at(NEW_YORK, 2026, 3, 8, 12), NEW_YORK) == 12 * 3600
    assert seconds_until_next_local_day(at(NEW_YORK, 2026, 11, 1, 12), NEW_YORK) == 12 * 3600
    assert seconds_until_next_local_day(at(NEW_YORK, 2026, 3, 8, 1, 59, 59), NEW_YORK) == 21 * 3600 + 1
    assert seconds_until_next_local_day(at(NEW_YORK, 2026, 11, 1, 1, 30), NEW_YORK) == 23.5 * 3600
    # Both 01:30s of the autumn day (EDT, then EST an hour later) are that day.
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert local_day(first, NEW_YORK) == local_day(first + timedelta(hours=1), NEW_YORK) == autumn
    assert local_day(long - TICK, NEW_YORK) == autumn - timedelta(days=1)
    assert local_day(long, NEW_YORK) == autumn


def test_a_day_whose_midnight_falls_in_a_dst_gap_starts_when_the_clocks_jump() -> None:
    # Cuba moves its clocks from 00:00 to 01:00: 2026-03-08 starts at 01:00 local, 05:00 UTC.
    start = start_of_local_day(date(2026, 3, 8), "America/Havana")
    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert local_day(start - TICK, "America/Havana") == date(2026, 3, 7)
    assert local_day(start, "America/Havana") == date(2026, 3, 8)
    assert seconds_until_next_local_day(start - timedelta(seconds=1), "America/Havana") == 1
    assert seconds_until_next_local_day(start, "America/Havana") == 23 * 3600
    # Samoa skipped 2011-12-30: it starts, and 12-29 ends, when 12-31 starts.
    skipped = start_of_local_day(date(2011, 12, 30), "Pacific/Apia")
    assert skipped == start_of_local_day(date(2011, 12, 31), "Pacific/Apia")
    assert local_day(skipped - TICK, "Pacific/Apia") == date(2011, 12, 29)
    assert local_day(skipped, "Pacific/Apia") == date(2011, 12, 31)


@pytest.mark.parametrize("zone", [SHANGHAI, NEW_YORK, "America/Havana", "Australia/Lord_Howe"])
def test_every_instant_lies_in_its_local_day(zone: str) -> None:
    """Hour by hour over a year (each DST change included), and one second either side of
    each local midnight: the instant is inside [start of its day, start of the next)."""
    moment = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    while moment.year == 2026:
        day = local_day(moment, zone)
        start, following = start_of_local_day(day, zone), start_of_local_day(day + timedelta(days=1), zone)
        assert start <= moment < following
        assert seconds_until_next_local_day(moment, zone) == (following - moment).total_seconds()
        assert local_day(start, zone) == day
        assert local_day(start - timedelta(seconds=1), zone) == day - timedelta(days=1)
        moment += timedelta(hours=1)


@pytest.mark.parametrize(
    "call",
    [
        lambda moment: local_day(moment, SHANGHAI),
        lambda moment: local_month(moment, SHANGHAI),
        lambda moment: local_iso_week(moment, SHANGHAI),
        lambda moment: seconds_until_next_local_day(moment, SHANGHAI),
    ],
    ids=["local_day", "local_month", "local_iso_week", "seconds_until_next_local_day"],
)
def test_naive_datetimes_are_refused(call) -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        call(datetime(2026, 12, 31, 23, 59))
