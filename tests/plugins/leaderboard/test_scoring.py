"""The boards' pure arithmetic (no app, no profile): local ISO weeks and their edges, the
member encoding of the tie-break, pet scores, epoch milliseconds and a week's expiry."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from leaderboard_support import MONDAY, local
from mengchong_plugins.leaderboard import scoring

ZONE = "Asia/Shanghai"
SUNDAY = MONDAY - timedelta(days=1)


def test_the_week_turns_at_local_monday_midnight():
    assert scoring.week_of(local(SUNDAY, time(23, 59, 59)), ZONE) == "2026-W24"
    assert scoring.week_of(local(MONDAY, time(0, 0, 0)), ZONE) == "2026-W25"
    # the same instants in UTC are still Sunday afternoon: the local day decides, not UTC's
    assert local(MONDAY, time(0)) == datetime(2026, 6, 14, 16, 0, tzinfo=UTC)
    assert scoring.week_of(datetime(2026, 6, 14, 15, 59, 59, tzinfo=UTC), ZONE) == "2026-W24"
    assert scoring.week_of(local(SUNDAY, time(23, 59, 59)), "UTC") == "2026-W24"
    assert scoring.week_of(local(MONDAY, time(7, 59, 59)), "UTC") == "2026-W24"


def test_a_week_starts_and_ends_at_local_midnights():
    assert scoring.week_start("2026-W25", ZONE) == local(MONDAY, time(0))
    assert scoring.week_end("2026-W25", ZONE) == local(MONDAY + timedelta(days=7), time(0))
    assert scoring.week_end("2026-W24", ZONE) == scoring.week_start("2026-W25", ZONE)
    # ISO years: 2027-01-01 (a Friday) is in 2026-W53, which starts on 2026-12-28
    assert scoring.week_of(datetime(2027, 1, 1, 12, tzinfo=UTC), ZONE) == "2026-W53"
    assert scoring.week_monday("2026-W53").isoformat() == "2026-12-28"


@pytest.mark.parametrize(
    "text",
    ["2026-25", "2026-W5", "2026-w25", " 2026-W25", "2026-W25x", "2026-W00", "2026-W54", "2025-W53", ""],
)
def test_malformed_or_missing_weeks_are_refused(text):
    with pytest.raises(ValueError, match=r"ISO week|has no week"):
        scoring.week_monday(text)


def test_weeks_between_and_the_weeks_before_cross_years():
    assert scoring.weeks_between("2026-W24", "2026-W25") == 1
    assert scoring.weeks_between("2026-W25", "2026-W24") == -1
    assert scoring.weeks_between("2026-W52", "2027-W02") == 3  # 2026 has 53 weeks
    assert scoring.previous_weeks("2027-W02", 4) == ["2027-W02", "2027-W01", "2026-W53", "2026-W52"]
    assert scoring.previous_weeks("2026-W25", 1) == ["2026-W25"]


def test_a_week_expires_weeks_kept_weeks_after_its_end():
    now = local(MONDAY, time(12))
    end = scoring.week_end("2026-W25", ZONE)
    ttl = scoring.week_ttl_seconds("2026-W25", ZONE, 8, now)
    assert now + timedelta(seconds=ttl) == end + timedelta(weeks=8)
    assert scoring.week_ttl_seconds("2026-W17", ZONE, 8, now) == 7 * 86400 - 12 * 3600
    assert scoring.week_ttl_seconds("2026-W16", ZONE, 8, now) == -12 * 3600  # ended 8 weeks and 12 h ago


def test_of_two_equal_scores_the_earlier_ranks_first_in_reverse_order():
    early, late = scoring.member(1_781_000_000_000, "9"), scoring.member(1_781_000_000_001, "10")
    # ZREVRANGE returns equal scores in reverse lexicographic order: the larger member first
    assert sorted([late, early], reverse=True) == [early, late]
    # the prefix decides before any id does, whatever the ids' lengths
    assert sorted([scoring.member(5, "1"), scoring.member(6, "99999")], reverse=True)[0].endswith("|1")
    assert (
        len(scoring.member(1, "a").split("|")[0]) == len(scoring.member(10**13 - 1, "a").split("|")[0]) == 13
    )


def test_a_member_gives_back_its_id_and_time():
    pet_id = "0123456789abcdef0123456789abcdef"
    encoded = scoring.member(1_781_234_567_890, pet_id)
    assert scoring.member_id(encoded) == pet_id
    assert scoring.member_id(encoded.encode()) == pet_id
    assert scoring.reached_ms(encoded) == 1_781_234_567_890


@pytest.mark.parametrize(("reached", "entry"), [(0, "1"), (10**13, "1"), (5, ""), (5, "a|b")])
def test_a_member_out_of_range_is_refused(reached, entry):
    with pytest.raises(ValueError):  # noqa: PT011 - the two messages differ
        scoring.member(reached, entry)


def test_a_higher_level_beats_any_experience():
    assert scoring.pet_score(2, 0) > scoring.pet_score(1, scoring.PET_LEVEL_FACTOR - 1)
    assert scoring.pet_score(3, 7) > scoring.pet_score(3, 6)
    assert scoring.split_pet_score(float(scoring.pet_score(12, 345))) == (12, 345)
    with pytest.raises(ValueError, match="out of range"):
        scoring.pet_score(1, scoring.PET_LEVEL_FACTOR)


def test_epoch_ms_reads_iso_text_with_its_offset():
    instant = datetime(2026, 6, 15, 4, 0, 0, 123456, tzinfo=UTC)
    assert scoring.epoch_ms(instant) == 1_781_496_000_123
    assert scoring.epoch_ms(instant.isoformat()) == 1_781_496_000_123
    assert scoring.epoch_ms("2026-06-15T12:00:00.123+08:00") == 1_781_496_000_123
    assert scoring.epoch_us(instant) == scoring.epoch_us(instant.isoformat()) == 1_781_496_000_123_456
    with pytest.raises(ValueError, match="timezone-aware"):
        scoring.epoch_ms("2026-06-15T04:00:00")


def test_a_pets_member_carries_its_owner_and_an_older_member_none() -> None:
    pet_id = "a" * 32
    with_owner = scoring.member(1_781_234_567_890, pet_id, 42)
    assert (scoring.member_id(with_owner), scoring.member_owner(with_owner)) == (pet_id, 42)
    assert scoring.member_owner(with_owner.encode()) == 42
    assert scoring.reached_ms(with_owner) == 1_781_234_567_890
    older = scoring.member(1_781_234_567_890, pet_id)
    assert (scoring.member_id(older), scoring.member_owner(older)) == (pet_id, None)
    assert scoring.member_owner(scoring.member(5, "7")) is None  # a user's: the id is the user
    # the owner never changes an order: ids are unique, so members differ before it
    assert sorted([with_owner, scoring.member(1_781_234_567_890, "b" * 32, 1)]) == [
        with_owner,
        scoring.member(1_781_234_567_890, "b" * 32, 1),
    ]
