"""The pets rules at their edges: a value exactly at every threshold, rounding at exactly .5,
and each documented guarantee checked on its own, where no other rule (e.g. the mood floor) hides it.

Written to kill the mutants of ``plugins/pets/rules.py`` that ``test_rules.py`` lets live.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime, timedelta, tzinfo

import pytest

from mengchong.clock import local_day, seconds_until_next_local_day
from mengchong_plugins.pets.rules import (
    InteractionRefused,
    InteractionResult,
    InteractionThrottled,
    PetState,
    Status,
    apply_interaction,
    cap_experience,
    cooldown_left,
    decay,
    experience_to_next,
    level_for,
    resolve_interaction,
)
from mengchong_plugins.pets.settings import DEFAULT_ITEMS, PetsSettings

S = PetsSettings()
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
SHANGHAI = "Asia/Shanghai"
FIELDS = ("mood", "hunger", "cleanliness", "affection")


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def floors(mood: float = 0, hunger: float = 0, cleanliness: float = 0, affection: float = 0) -> dict:
    return {"mood": mood, "hunger": hunger, "cleanliness": cleanliness, "affection": affection}


def pet(**changes: object) -> PetState:
    fields: dict = {"status": Status(60, 50, 60, 40), "status_at": T0, "level": 1, "experience": 0}
    return PetState(**{**fields, **changes})


def feed(state: PetState, now: datetime, item: str = "food.kibble", **kwargs: object) -> InteractionResult:
    options: dict = {"last_at": None, "earned_today": 0, "timezone": SHANGHAI, "settings": S}
    return resolve_interaction(state, "feeding", DEFAULT_ITEMS[item], now=now, **{**options, **kwargs})


# --- levels --------------------------------------------------------------------------------------


def test_level_up_at_exactly_the_experience_needed() -> None:
    assert level_for(1, 100, S) == (2, 0, [2])
    assert level_for(1, 99, S) == (1, 99, [])
    assert level_for(1, 100 + 110, S) == (3, 0, [2, 3])
    assert level_for(2, 110, S) == (3, 0, [3])
    steep = PetsSettings(level_curve={"base": 10, "growth": 2, "max_level": 4})
    assert level_for(3, 40, steep) == (4, 0, [4])  # reaching max_level exactly
    assert level_for(3, 39, steep) == (3, 39, [])
    assert experience_to_next(3, steep) == 40
    assert experience_to_next(4, steep) is None
    assert experience_to_next(5, steep) is None


def test_level_for_accepts_zero_experience_and_refuses_each_bad_argument_alone() -> None:
    assert level_for(1, 0, S) == (1, 0, [])
    with pytest.raises(ValueError, match="experience"):
        level_for(1, -1, S)
    with pytest.raises(ValueError, match="level"):
        level_for(0, 0, S)


def test_level_curve_rounds_half_up() -> None:
    curve = PetsSettings(level_curve={"base": 3, "growth": 1.5, "max_level": 10})
    # 3, 4.5, 6.75, 10.125: exact in binary, so 4.5 really is a half.
    assert [experience_to_next(n, curve) for n in (1, 2, 3, 4)] == [3, 5, 7, 10]
    assert level_for(1, 3 + 5, curve) == (3, 0, [2, 3])
    flat = PetsSettings(level_curve={"base": 1, "growth": 1, "max_level": 3})
    assert [experience_to_next(n, flat) for n in (1, 2, 3)] == [1, 1, None]
    assert experience_to_next(0, S) == experience_to_next(1, S) == 100  # below level 1 counts as 1


# --- rounding --------------------------------------------------------------------------------------


def test_display_rounding_is_half_up_at_exactly_half() -> None:
    assert Status(0.5, 1.5, 2.5, 99.5).rounded() == {
        "mood": 1,
        "hunger": 2,
        "cleanliness": 3,
        "affection": 100,
    }
    assert Status(0.49, 2.0, 0.0, 100.0).rounded() == {
        "mood": 0,
        "hunger": 2,
        "cleanliness": 0,
        "affection": 100,
    }


def test_item_multiplier_experience_rounds_half_up() -> None:
    for rule_experience, expected in ((3, 5), (1, 2), (5, 8)):  # x1.5: 4.5, 1.5, 7.5
        settings = PetsSettings(interactions={"playing": {"experience": rule_experience}})
        out = apply_interaction(Status(50, 50, 50, 50), "playing", DEFAULT_ITEMS["toy.ball"], None, settings)
        assert out.experience == expected + DEFAULT_ITEMS["toy.ball"].experience, rule_experience


def test_full_refusal_names_the_hunger_rounded_half_up() -> None:
    with pytest.raises(InteractionRefused, match=r"hunger 93\)"):
        apply_interaction(Status(50, 92.5, 50, 50), "feeding", DEFAULT_ITEMS["food.kibble"], None, S)


# --- status bounds and the full threshold --------------------------------------------------------


def test_status_bounds_are_exactly_0_and_100() -> None:
    training = apply_interaction(Status(50, 5, 50, 50), "training", None, None, S)
    assert training.status.hunger == 0  # 5 - 5 lands on the bound
    assert apply_interaction(Status(50, 3, 50, 50), "training", None, None, S).status.hunger == 0
    assert apply_interaction(Status(95, 50, 50, 50), "petting", None, None, S).status.mood == 100
    assert apply_interaction(Status(100, 50, 50, 98), "petting", None, None, S).status == Status(
        100, 50, 50, 100
    )
    exact = Status(100, 0, 100, 0)
    assert exact.clamped() == exact
    assert Status(100.001, -0.001, 50, 50).clamped() == Status(100, 0, 50, 50)
    for bad in (float("inf"), float("-inf")):
        with pytest.raises(ValueError, match="finite"):
            Status(50, 50, bad, 50)
    with pytest.raises(ValueError, match="status hunger must be a finite number"):
        Status(50, float("nan"), 50, 50)
    huge = Status(1e308, 1e308, 0, 0)  # each finite, their sum not: still a status
    assert huge.clamped() == Status(100, 100, 0, 0)


def test_as_dict_has_every_field_of_the_status() -> None:
    status = Status(1.5, 2.5, 3.5, 4.5)
    assert status.as_dict() == {field.name: getattr(status, field.name) for field in fields(Status)}


def test_full_threshold_is_inclusive_at_any_setting() -> None:
    kibble = DEFAULT_ITEMS["food.kibble"]
    at_100 = PetsSettings(full_threshold=100)
    assert apply_interaction(Status(50, 99.99, 50, 50), "feeding", kibble, None, at_100).status.hunger == 100
    with pytest.raises(InteractionRefused):
        apply_interaction(Status(50, 100, 50, 50), "feeding", kibble, None, at_100)


def test_from_mapping_keeps_each_field_in_its_place() -> None:
    status = Status(1.5, 2.5, 3.5, 4.5)
    assert Status.from_mapping(status.as_dict()) == status
    assert Status.from_mapping({"mood": 1, "hunger": 2, "cleanliness": 3, "affection": 4}) == Status(
        1, 2, 3, 4
    )


def test_statuses_and_results_are_immutable_values() -> None:
    status = Status(1, 2, 3, 4)
    assert len({status, Status(1, 2, 3, 4)}) == 1  # hashable, equal by value
    outcome = apply_interaction(status, "petting", None, None, S)
    state = pet()
    result = feed(state, T0)
    for value, name in ((status, "mood"), (outcome, "experience"), (state, "level"), (result, "level")):
        with pytest.raises(FrozenInstanceError):
            setattr(value, name, 0)


def test_a_liked_thing_enlarges_only_positive_changes_however_small() -> None:
    settings = PetsSettings(
        interactions={"petting": {"deltas": {"mood": 0.5, "cleanliness": -0.5, "hunger": 0}}},
        personalities={"fan": {"preferred_interactions": ["petting"], "preference_bonus": 1.0}},
    )
    out = apply_interaction(Status(50, 50, 50, 50), "petting", None, "fan", settings)
    assert out.deltas == {"mood": 1.0, "cleanliness": -0.5, "hunger": 0}


# --- decay: floors and the low threshold, each on its own ----------------------------------------


def test_each_field_stops_at_its_own_floor() -> None:
    settings = PetsSettings(decay={"floors": floors(mood=11, hunger=7, cleanliness=3, affection=2)})
    assert decay(Status(100, 100, 100, 100), T0, T0 + timedelta(days=30), settings) == Status(11, 7, 3, 2)


def test_decay_lands_exactly_on_a_floor_and_stays() -> None:
    start = Status(mood=90, hunger=25, cleanliness=100, affection=50)
    assert decay(start, T0, hours(5), S).hunger == 5  # 25 - 4 * 5 reaches the floor exactly
    assert decay(start, T0, hours(50), S).hunger == 5
    at_floor = decay(start, T0, hours(5), S)
    assert decay(at_floor, hours(5), hours(6), S).hunger == 5


def test_hunger_floor_above_the_low_threshold_never_makes_mood_fall_faster() -> None:
    # Mood floor 0, so mood shows the extra rate instead of hiding it behind its floor.
    for hunger_floor in (40, 30):  # above, and exactly at, the low threshold (30)
        settings = PetsSettings(decay={"floors": floors(hunger=hunger_floor)})
        after = decay(Status(mood=100, hunger=50, cleanliness=100, affection=50), T0, hours(20), settings)
        assert after.hunger == hunger_floor
        assert after.cleanliness == 50
        assert after.mood == pytest.approx(80)  # base rate only, for all 20 hours
        assert after.affection == pytest.approx(46)


def test_cleanliness_floor_at_the_low_threshold_never_makes_mood_fall_faster() -> None:
    settings = PetsSettings(decay={"hunger_per_hour": 0, "floors": floors(cleanliness=30)})
    after = decay(Status(mood=100, hunger=100, cleanliness=50, affection=50), T0, hours(20), settings)
    assert (after.hunger, after.cleanliness) == (100, 30)
    assert after.mood == pytest.approx(80)


def test_a_value_exactly_at_the_low_threshold_is_not_low() -> None:
    steady = PetsSettings(decay={"hunger_per_hour": 0, "cleanliness_per_hour": 0})
    at = decay(Status(mood=100, hunger=30, cleanliness=30, affection=50), T0, hours(10), steady)
    assert at.mood == pytest.approx(90)
    hungry = decay(Status(mood=100, hunger=29.99, cleanliness=30, affection=50), T0, hours(10), steady)
    assert hungry.mood == pytest.approx(70)  # below from the start: base 1 + hungry 2 per hour
    dirty = decay(Status(mood=100, hunger=30, cleanliness=29.99, affection=50), T0, hours(10), steady)
    assert dirty.mood == pytest.approx(80)
    # Stopped exactly at the threshold by the floor: not low either.
    at_floor = PetsSettings(decay={"floors": floors(hunger=30, cleanliness=30)})
    assert decay(Status(100, 30, 30, 50), T0, hours(10), at_floor).mood == pytest.approx(90)


def test_crossing_the_low_threshold_mid_way_counts_only_the_hours_below() -> None:
    no_floor = PetsSettings(decay={"floors": floors()})
    # hunger 50 -> 30 after 5 h; cleanliness 100 -> 30 after 28 h.
    after = decay(Status(mood=100, hunger=50, cleanliness=100, affection=50), T0, hours(8), no_floor)
    assert after.mood == pytest.approx(100 - 8 - 2 * 3)
    after = decay(Status(mood=100, hunger=100, cleanliness=40, affection=50), T0, hours(8), no_floor)
    assert after.mood == pytest.approx(100 - 8 - 1 * 4)


def test_a_rate_under_one_point_an_hour_still_crosses_the_low_threshold() -> None:
    slow = PetsSettings(decay={"hunger_per_hour": 0.5, "cleanliness_per_hour": 0.25, "floors": floors()})
    # hunger 31 -> 30 after 2 h, cleanliness 31 -> 30 after 4 h: 8 and 6 of the 10 hours below.
    after = decay(Status(mood=100, hunger=31, cleanliness=31, affection=50), T0, hours(10), slow)
    assert (after.hunger, after.cleanliness) == (26, 28.5)
    assert after.mood == pytest.approx(100 - 10 - 2 * 8 - 1 * 6)


# --- daily cap and cooldowns -------------------------------------------------------------------


def test_daily_cap_exactly_at_the_cap() -> None:
    assert cap_experience(10, 190, S) == 10  # the gain fills the cap exactly
    assert cap_experience(11, 190, S) == 10
    assert cap_experience(10, 199, S) == 1
    assert cap_experience(1, 199, S) == 1
    assert cap_experience(10, 200, S) == 0
    assert cap_experience(250, -50, S) == 200  # a negative count is taken as 0, never as room
    result = feed(pet(), T0, earned_today=199)
    assert result.experience_gained == 1
    assert result.experience == 1


def test_interact_allows_exactly_at_the_end_of_the_cooldown() -> None:
    cooldown = S.interactions["feeding"].cooldown_seconds
    assert feed(pet(), seconds(cooldown), last_at=T0).experience_gained == 7
    with pytest.raises(InteractionThrottled) as throttled:
        feed(pet(), seconds(cooldown - 0.5), last_at=T0)
    assert throttled.value.reason == "cooldown"
    assert throttled.value.retry_after == pytest.approx(0.5)
    assert "in 1 s" in throttled.value.message  # a fraction of a second left is shown as 1 s


def test_cooldown_left_never_goes_negative_and_is_per_type() -> None:
    assert cooldown_left(T0, seconds(1000), "petting", S) == 0.0
    assert cooldown_left(T0, seconds(10), "cleaning", S) == S.interactions["cleaning"].cooldown_seconds - 10
    assert cooldown_left(T0, seconds(0.25), "petting", S) == pytest.approx(29.75)


def test_refusals_come_before_throttling() -> None:
    with pytest.raises(InteractionRefused) as refused:
        resolve_interaction(
            pet(),
            "feeding",
            None,
            now=T0,
            last_at=T0,
            earned_today=500,
            timezone=SHANGHAI,
            settings=S,
        )
    assert refused.value.reason == "item_required"


def test_daily_cap_retry_after_runs_to_the_local_midnight() -> None:
    just_after_midnight = datetime(2024, 3, 1, 16, 0, 1, tzinfo=UTC)  # 00:00:01 in Shanghai
    with pytest.raises(InteractionThrottled) as capped:
        feed(pet(status_at=just_after_midnight), just_after_midnight, earned_today=200)
    assert (capped.value.reason, capped.value.retry_after) == ("daily_cap", 86399)


# --- resolve_interaction passes everything through ----------------------------------------------------------


def test_interact_uses_the_personality_and_item_id_and_reports_the_outcome() -> None:
    shy = pet(personality="shy")
    result = feed(shy, T0, item="food.fish", item_id="food.fish")  # shy likes food.fish by id
    # feeding +2 mood +1 affection; fish x1.5: hunger 45, mood 9, affection 3.
    assert result.deltas == {"mood": 11, "affection": 4, "hunger": 45}
    assert result.status == Status(mood=71, hunger=95, cleanliness=60, affection=44)
    assert result.affection_gained == 4
    assert (result.experience_gained, result.leveled_up) == (9, False)
    plain = feed(shy, T0, item="food.fish")  # without the id only tags count: fish is not liked
    assert plain.deltas["hunger"] == 30
    up = feed(pet(experience=93), T0)
    assert (up.level, up.experience, up.levels_passed, up.leveled_up) == (2, 0, [2], True)


def test_interact_decays_up_to_now_from_status_at() -> None:
    result = feed(pet(status_at=hours(-10)), T0)
    # status (60, 50, 60, 40) ten hours old: hunger 10 (below 30 for 5 h), mood 60 - 10 - 2*5.
    assert result.status.hunger == pytest.approx(10 + 20)
    assert result.status.mood == pytest.approx(40 + 4)
    assert result.status.cleanliness == pytest.approx(35)


# --- time zones -------------------------------------------------------------------------------------


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: as naive as no tzinfo at all."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


@pytest.mark.parametrize(
    "moment", [datetime(2024, 3, 1, 8, 0), datetime(2024, 3, 1, 8, 0, tzinfo=_NoOffset())]
)
def test_every_time_must_be_timezone_aware(moment: datetime) -> None:
    start = Status.initial(S)
    with pytest.raises(ValueError, match="since must be"):
        decay(start, moment, T0, S)
    with pytest.raises(ValueError, match="now must be"):
        decay(start, T0, moment, S)
    with pytest.raises(ValueError, match="last_at must be"):
        cooldown_left(moment, T0, "petting", S)
    with pytest.raises(ValueError, match="now must be"):
        cooldown_left(T0, moment, "petting", S)
    with pytest.raises(ValueError, match="now must be"):
        local_day(moment, SHANGHAI)
    with pytest.raises(ValueError, match="now must be"):
        seconds_until_next_local_day(moment, SHANGHAI)
