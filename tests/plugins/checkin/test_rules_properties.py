"""Property-based tests of the streak rules: a streak is a function of the set of dates alone.

Each property is checked against a brute-force reference (sort the dates, split them into runs)
over sets of dates spread across a few months, derandomized so a run is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mengchong_plugins.checkin.rules import consecutive_days, rewards_preview, run_start, streak_through
from mengchong_plugins.checkin.settings import CheckinSettings

FIRST = date(2025, 11, 20)  # across a year end and February
LAST = date(2026, 3, 10)
ONE_DAY = timedelta(days=1)
S = CheckinSettings()

some_days = st.dates(min_value=FIRST, max_value=LAST)
# Dense enough that long runs are common: the dates come from a window of at most 40 days.
date_sets = st.integers(0, (LAST - FIRST).days - 40).flatmap(
    lambda start: st.sets(
        st.integers(0, 40).map(lambda offset: FIRST + timedelta(days=start + offset)), max_size=41
    )
)
quick = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def runs(dates: Iterable[date]) -> list[list[date]]:
    """The reference: the sorted dates split where a day is missing."""
    result: list[list[date]] = []
    for day in sorted(set(dates)):
        if result and result[-1][-1] + ONE_DAY == day:
            result[-1].append(day)
        else:
            result.append([day])
    return result


def reference_streak(dates: Iterable[date], day: date) -> int:
    for run in runs(dates):
        if day in run:
            return run.index(day) + 1
    return 0


def near(dates: set[date]) -> list[date]:
    """The days worth asking about: every date and its neighbours."""
    return sorted({d + k * ONE_DAY for d in dates for k in (-1, 0, 1)})


@quick
@given(date_sets, some_days)
def test_streak_through_matches_the_reference(dates: set[date], today: date) -> None:
    assert streak_through(dates, today) == reference_streak(dates, today)
    for day in near(dates):
        assert streak_through(dates, day) == reference_streak(dates, day)


@quick
@given(date_sets, some_days)
def test_consecutive_days_matches_the_reference(dates: set[date], today: date) -> None:
    expected = reference_streak(dates, today) or reference_streak(dates, today - ONE_DAY)
    assert consecutive_days(dates, today) == expected


@quick
@given(date_sets, some_days, st.data())
def test_adding_a_date_never_shortens_a_streak(dates: set[date], today: date, data: st.DataObject) -> None:
    # mostly a day next to the others: that is where a date joins or extends runs
    added = data.draw(st.sampled_from(near(dates)) if dates else some_days)
    more = dates | {added}
    for day in [*near(more), today]:
        assert streak_through(more, day) >= streak_through(dates, day)
    assert consecutive_days(more, today) >= consecutive_days(dates, today)


@quick
@given(date_sets, st.randoms(use_true_random=False))
def test_insertion_order_never_matters(dates: set[date], rng: random.Random) -> None:
    shuffled = sorted(dates)
    rng.shuffle(shuffled)
    built: set[date] = set()
    for day in shuffled:  # as if written one by one in this order
        built.add(day)
    for day in near(dates):
        assert streak_through(built, day) == streak_through(sorted(dates), day)
        assert streak_through(shuffled, day) == streak_through(dates, day)


@quick
@given(date_sets, some_days, st.randoms(use_true_random=False))
def test_consecutive_days_same_from_a_set_or_a_shuffled_list(
    dates: set[date], today: date, rng: random.Random
) -> None:
    shuffled = [*dates, *rng.sample(sorted(dates), k=len(dates) // 2)]  # with duplicates
    rng.shuffle(shuffled)
    assert consecutive_days(shuffled, today) == consecutive_days(dates, today)
    assert consecutive_days(tuple(shuffled), today) == consecutive_days(frozenset(dates), today)
    assert rewards_preview(shuffled, today, S) == rewards_preview(dates, today, S)


@quick
@given(date_sets.filter(bool), st.data())
def test_run_start_is_where_the_run_begins(dates: set[date], data: st.DataObject) -> None:
    day = data.draw(st.sampled_from(sorted(dates)))
    start = run_start(dates, day)
    assert start - ONE_DAY not in dates
    assert all(start + k * ONE_DAY in dates for k in range((day - start).days + 1))
    assert streak_through(dates, day) == (day - start).days + 1


@quick
@given(date_sets, some_days)
def test_preview_continues_the_streak(dates: set[date], today: date) -> None:
    preview = rewards_preview(dates, today, S)
    first = consecutive_days(dates, today) + 1
    assert [reward.day for reward in preview] == list(range(first, first + S.preview_days))
    # checking in today (if not yet) pays exactly the preview's first reward
    if today not in dates:
        assert streak_through(dates | {today}, today) == preview[0].day
