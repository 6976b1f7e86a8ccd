"""Fast tests of the pets game rules (decay, interactions, cap, levels, cooldowns) and settings."""

from __future__ import annotations

import dataclasses
import random
import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mengchong.config_loading import format_validation_error
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
    pet_at,
    resolve_interaction,
)
from mengchong_plugins.pets.settings import DEFAULT_ITEMS, ItemEffect, Personality, PetsSettings

S = PetsSettings()
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
FIELDS = ("mood", "hunger", "cleanliness", "affection")
SHANGHAI = "Asia/Shanghai"


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def assert_close(a: Status, b: Status, tol: float = 1e-9) -> None:
    for name in FIELDS:
        assert getattr(a, name) == pytest.approx(getattr(b, name), abs=tol), name


# --- decay ---------------------------------------------------------------------------------------


def test_decay_exact_values_before_anything_is_low() -> None:
    after = decay(Status.initial(S), T0, hours(10), S)
    # hunger 80 - 4*10, cleanliness 80 - 2.5*10, affection 20 - 0.2*10; mood only its base rate.
    assert after == Status(mood=70, hunger=40, cleanliness=55, affection=18)


def test_mood_falls_faster_once_hunger_is_low() -> None:
    start = Status(mood=90, hunger=50, cleanliness=100, affection=50)  # hunger crosses 30 after 5 h
    per_hour = [decay(start, T0, hours(h), S).mood - decay(start, T0, hours(h + 1), S).mood for h in range(8)]
    assert per_hour[:5] == pytest.approx([1.0] * 5)  # base rate only
    assert per_hour[5:] == pytest.approx([3.0] * 3)  # base + hungry extra
    dirty = Status(mood=90, hunger=100, cleanliness=20, affection=50)
    assert decay(dirty, T0, hours(1), S).mood == pytest.approx(88.0)  # base + dirty extra
    both = Status(mood=90, hunger=10, cleanliness=10, affection=50)
    assert decay(both, T0, hours(1), S).mood == pytest.approx(86.0)


def test_month_long_absence_lands_exactly_on_the_floors() -> None:
    floors = S.decay.floors
    for start in (Status.initial(S), Status(100, 100, 100, 100)):
        after = decay(start, T0, T0 + timedelta(days=30), S)
        assert after == Status(floors.mood, floors.hunger, floors.cleanliness, floors.affection)
    assert after.hunger > 0  # hungry and sad, never gone
    assert after.mood > 0


def test_decay_never_raises_a_value_and_keeps_values_below_a_floor() -> None:
    low = Status(mood=3, hunger=1, cleanliness=0, affection=0)  # below floors (e.g. after training)
    assert decay(low, T0, hours(100), S) == low
    rng = random.Random(7)
    for _ in range(300):
        start = Status(*(rng.uniform(0, 100) for _ in FIELDS))
        after = decay(start, T0, hours(rng.uniform(0, 500)), S)
        for name in FIELDS:
            assert getattr(after, name) <= getattr(start, name)


def test_decay_clamps_out_of_range_input_and_ignores_time_going_back() -> None:
    wild = Status(mood=150, hunger=-20, cleanliness=100, affection=40)
    assert decay(wild, T0, T0, S) == Status(mood=100, hunger=0, cleanliness=100, affection=40)
    start = Status.initial(S)
    assert decay(start, T0, hours(-5), S) == start
    with pytest.raises(ValueError, match="timezone-aware"):
        decay(start, T0.replace(tzinfo=None), hours(1), S)
    with pytest.raises(ValueError, match="finite"):
        Status(float("nan"), 1, 1, 1)


def test_decay_is_path_independent_over_random_splits() -> None:
    rng = random.Random(20240301)
    settings_variants = [
        S,
        PetsSettings(decay={"low_threshold": 0}),
        PetsSettings(decay={"floors": {"mood": 0, "hunger": 40, "cleanliness": 0, "affection": 10}}),
        PetsSettings(decay={"hunger_per_hour": 0, "mood_hungry_per_hour": 10, "low_threshold": 60}),
    ]
    for _ in range(400):
        settings = rng.choice(settings_variants)
        start = Status(*(rng.choice([rng.uniform(0, 100), 0.0, 30.0, 100.0]) for _ in FIELDS))
        total = rng.uniform(0, 24 * 40)
        cuts = sorted(rng.uniform(0, total) for _ in range(rng.randint(1, 12)))
        stepped, since = start, T0
        for cut in [*cuts, total]:
            stepped, since = decay(stepped, since, hours(cut), settings), hours(cut)
        assert_close(stepped, decay(start, T0, hours(total), settings))


def test_split_exactly_at_the_low_threshold_crossing() -> None:
    start = Status(mood=90, hunger=50, cleanliness=100, affection=50)
    at_crossing = decay(start, T0, hours(5), S)
    assert at_crossing.hunger == pytest.approx(30)
    assert_close(decay(at_crossing, hours(5), hours(9), S), decay(start, T0, hours(9), S))


# --- interactions --------------------------------------------------------------------------------


def test_feeding_adds_rule_and_item_effects_and_clamps_at_100() -> None:
    start = Status(mood=50, hunger=40, cleanliness=50, affection=50)
    out = apply_interaction(start, "feeding", DEFAULT_ITEMS["food.kibble"], None, S, "food.kibble")
    assert out.status == Status(mood=54, hunger=60, cleanliness=50, affection=52)
    assert out.experience == 5 + 2
    assert out.affection_gained == 2
    full = apply_interaction(Status(99, 85, 50, 99.5), "feeding", DEFAULT_ITEMS["food.fish"], None, S)
    assert full.status == Status(mood=100, hunger=100, cleanliness=50, affection=100)
    assert full.affection_gained == pytest.approx(0.5)  # the real change, not the delta
    assert full.deltas["hunger"] == 30


def test_feeding_refused_at_the_full_threshold() -> None:
    food = DEFAULT_ITEMS["food.kibble"]
    with pytest.raises(InteractionRefused) as refused:
        apply_interaction(Status(50, S.full_threshold, 50, 50), "feeding", food, None, S)
    assert (refused.value.reason, refused.value.field, refused.value.http_status) == (
        "full",
        "interaction_type",
        400,
    )
    apply_interaction(Status(50, S.full_threshold - 0.01, 50, 50), "feeding", food, None, S)
    apply_interaction(Status(50, 100, 50, 50), "petting", None, None, S)  # only feeding cares


@pytest.mark.parametrize(
    ("interaction", "item", "reason", "field"),
    [
        ("feeding", None, "item_required", "item_id"),
        ("feeding", "toy.ball", "wrong_item_type", "item_id"),
        ("playing", "food.fish", "wrong_item_type", "item_id"),
        ("petting", "food.fish", "item_not_accepted", "item_id"),
        ("dancing", None, "unknown_interaction", "interaction_type"),
    ],
)
def test_interaction_refusals(interaction: str, item: str | None, reason: str, field: str) -> None:
    effect = DEFAULT_ITEMS[item] if item else None
    with pytest.raises(InteractionRefused) as refused:
        apply_interaction(Status(50, 50, 50, 50), interaction, effect, None, S, item)
    assert (refused.value.reason, refused.value.field) == (reason, field)


def test_playing_toy_is_optional_and_multiplies_the_base_effect() -> None:
    start = Status(50, 50, 50, 50)
    bare = apply_interaction(start, "playing", None, None, S)
    assert bare.deltas == {"mood": 10, "hunger": -3, "cleanliness": -4, "affection": 2}
    assert bare.experience == 8
    ball = apply_interaction(start, "playing", DEFAULT_ITEMS["toy.ball"], None, S, "toy.ball")
    # 1.5 x the base deltas, plus the ball's own effects.
    assert ball.deltas == {"mood": 25, "hunger": -6.5, "cleanliness": -6, "affection": 5}
    assert ball.experience == 12 + 4


def test_personality_likes_items_by_tag_or_id_and_interactions_by_type() -> None:
    start = Status(50, 40, 50, 50)
    cake = DEFAULT_ITEMS["food.cake"]
    plain = apply_interaction(start, "feeding", cake, "calm", S, "food.cake")
    greedy = apply_interaction(start, "feeding", cake, "greedy", S, "food.cake")  # likes "sweet" and feeding
    assert plain.deltas == {"mood": 14, "affection": 4, "hunger": 15, "cleanliness": -5}
    # positive changes x1.5 (rule and item both liked); the cake's mess is not enlarged.
    assert greedy.deltas == {"mood": 21, "affection": 6, "hunger": 22.5, "cleanliness": -5}
    shy = apply_interaction(start, "feeding", DEFAULT_ITEMS["food.fish"], "shy", S, "food.fish")  # by item id
    assert shy.deltas["hunger"] == 45
    assert apply_interaction(start, "petting", None, "shy", S).deltas == {"mood": 7.5, "affection": 3}
    unknown = apply_interaction(start, "petting", None, "no-such-personality", S)
    assert unknown.deltas == {"mood": 5, "affection": 2}


def test_new_item_and_personality_come_purely_from_settings() -> None:
    durian = {
        "type": "food",
        "tags": ["smelly"],
        "effects": {"hunger": 10, "cleanliness": -20},
        "experience": 9,
    }
    settings = PetsSettings(
        items={**DEFAULT_ITEMS, "food.durian": durian},
        personalities={"stinky": Personality(preferred_tags=("smelly",), preference_bonus=2.0)},
    )
    item = settings.items["food.durian"]
    start = Status(50, 40, 50, 50)
    neutral = apply_interaction(start, "feeding", item, None, settings, "food.durian")
    assert neutral.status == Status(mood=52, hunger=50, cleanliness=30, affection=51)
    assert neutral.experience == 5 + 9
    fan = apply_interaction(start, "feeding", item, "stinky", settings, "food.durian")
    assert fan.status.hunger == 40 + 10 * 3  # bonus 2.0 = three times the liked effect


def test_interaction_rules_come_from_settings() -> None:
    settings = PetsSettings(interactions={"petting": {"deltas": {"cleanliness": -1}, "experience": 50}})
    out = apply_interaction(Status(50, 50, 50, 50), "petting", None, None, settings)
    assert out.deltas == {"cleanliness": -1}
    assert out.experience == 50
    assert settings.interactions["petting"].cooldown_seconds == S.interactions["petting"].cooldown_seconds


# --- experience, levels, cooldowns, days -------------------------------------------------------


def test_daily_experience_cap() -> None:
    assert cap_experience(10, 0, S) == 10
    assert cap_experience(10, 195, S) == 5
    assert cap_experience(10, 200, S) == 0
    assert cap_experience(10, 250, S) == 0
    assert cap_experience(10, 195, PetsSettings(daily_experience_cap=1000)) == 10


def test_levels_follow_the_configured_curve_several_at_once() -> None:
    assert [experience_to_next(n, S) for n in (1, 2, 3)] == [100, 110, 121]
    assert level_for(1, 99, S) == (1, 99, [])
    assert level_for(1, 100 + 110 + 121 + 7, S) == (4, 7, [2, 3, 4])
    steep = PetsSettings(level_curve={"base": 10, "growth": 2, "max_level": 4})
    assert [experience_to_next(n, steep) for n in (1, 2, 3, 4)] == [10, 20, 40, None]
    assert level_for(1, 10**6, steep) == (4, 10**6 - 70, [2, 3, 4])  # max_level stops it, keeps the rest
    assert level_for(4, 5, steep) == (4, 5, [])
    with pytest.raises(ValueError, match="level"):
        level_for(0, 5, S)


def test_cooldown_left() -> None:
    petting = S.interactions["petting"].cooldown_seconds
    assert cooldown_left(None, T0, "petting", S) == 0
    assert cooldown_left(T0, T0 + timedelta(seconds=10), "petting", S) == petting - 10
    assert cooldown_left(T0, T0 + timedelta(seconds=petting), "petting", S) == 0
    assert cooldown_left(T0, T0 - timedelta(hours=1), "petting", S) == petting  # clock went back
    with pytest.raises(InteractionRefused):
        cooldown_left(T0, T0, "dancing", S)


# --- the whole interaction ---------------------------------------------------------------------


def pet(**changes: object) -> PetState:
    fields: dict = {"status": Status(60, 50, 60, 40), "status_at": T0, "level": 1, "experience": 0}
    return PetState(**{**fields, **changes})


def feed(state: PetState, now: datetime, **kwargs: object) -> InteractionResult:
    options: dict = {"last_at": None, "earned_today": 0, "timezone": SHANGHAI, "settings": S}
    return resolve_interaction(
        state, "feeding", DEFAULT_ITEMS["food.kibble"], now=now, **{**options, **kwargs}
    )


def test_interact_decays_first_then_applies_and_levels_up() -> None:
    full_then = pet(status=Status(60, 95, 60, 40), level=2, experience=105)
    with pytest.raises(InteractionRefused):
        feed(full_then, T0)
    result = feed(full_then, hours(5))  # 95 - 4 * 5 = 75: hungry enough again
    assert result.status.hunger == pytest.approx(75 + 20)
    assert result.status_at == hours(5)
    assert (result.experience_gained, result.level, result.experience, result.levels_passed) == (7, 3, 2, [3])


def test_reads_in_between_never_change_an_interaction() -> None:
    direct = feed(pet(), hours(7))
    read = pet()
    for h in (0.5, 2, 2, 6.9):
        read = pet_at(read, hours(h), S)
    assert read.status_at == hours(6.9)
    via_reads = feed(read, hours(7))
    assert_close(via_reads.status, direct.status)
    assert pet_at(pet(), T0 - timedelta(hours=1), S).status_at == T0  # never moves back
    assert feed(pet(status_at=hours(2)), hours(1)).status_at == hours(2)


def test_a_read_changes_the_status_and_its_time_only() -> None:
    """pet_at builds its PetState field by field: every other field, a new one too, is kept."""
    stored = pet(level=7, experience=33, personality="lazy")
    read = pet_at(stored, hours(3), S)
    assert read == dataclasses.replace(stored, status=read.status, status_at=hours(3))
    assert read.status != stored.status
    assert {f.name for f in dataclasses.fields(PetState)} == {
        "status",
        "status_at",
        "level",
        "experience",
        "personality",
    }, "a new PetState field: pass it on in pet_at"


def test_interact_cooldown_and_daily_cap_answer_429_with_time_left() -> None:
    with pytest.raises(InteractionThrottled) as throttled:
        feed(pet(), hours(1), last_at=hours(1) - timedelta(seconds=15))
    assert (throttled.value.reason, throttled.value.retry_after) == ("cooldown", 45)
    assert throttled.value.http_status == 429
    late = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    with pytest.raises(InteractionThrottled) as capped:
        feed(pet(), late, earned_today=200)
    assert (capped.value.reason, capped.value.retry_after) == ("daily_cap", 3600)
    partial = feed(pet(), late, earned_today=197)
    assert partial.experience_gained == 3
    lenient = PetsSettings(daily_cap_refuses=False)
    result = feed(pet(), late, earned_today=200, settings=lenient)
    assert result.experience_gained == 0
    assert result.status == feed(pet(), late, earned_today=0, settings=lenient).status


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"decay": {"hunger_per_hour": -1}}, "decay.hunger_per_hour"),
        (
            {"decay": {"floors": {"mood": 150, "hunger": 5, "cleanliness": 5, "affection": 0}}},
            "decay.floors.mood",
        ),
        ({"decay": {"speed": 1}}, "decay.speed"),
        ({"interactions": {"dancing": {}}}, "interactions"),
        ({"interactions": {"feeding": {"cooldown_seconds": -5}}}, "interactions.feeding.cooldown_seconds"),
        ({"daily_experience_cap": 0}, "daily_experience_cap"),
        ({"full_threshold": 101}, "full_threshold"),
        ({"items": {"toy.ball": DEFAULT_ITEMS["toy.ball"]}}, "interactions"),  # feeding needs a food
        ({"items": {"food.x": {"type": "food", "effects": {"energy": 5}}}}, "items.food.x.effects.energy"),
        ({"items": {"food.x": {"type": "food", "effects": {"hunger": 150}}}}, "items.food.x.effects"),
        ({"personalities": {"odd": {"preferred_interactions": ["dancing"]}}}, "personalities.odd"),
        ({"level_curve": {"growth": 3, "max_level": 1000}}, "level_curve"),
    ],
)
def test_settings_reject_nonsense_naming_the_field(raw: dict, key: str) -> None:
    with pytest.raises(ValidationError) as error:
        PetsSettings(**raw)
    message = format_validation_error(error.value, prefix="pets.")
    assert message.startswith(f"pets.{key}"), message
    if key == "interactions":
        assert "dancing" in message or "feeding requires a food" in message


def test_settings_from_toml_merge_over_defaults_and_are_frozen() -> None:
    raw = tomllib.loads(
        """
        daily_experience_cap = 300
        [decay]
        hunger_per_hour = 6
        [interactions.feeding]
        cooldown_seconds = 10
        [items."food.rice"]
        type = "food"
        effects = { hunger = 18 }
        """
    )
    settings = PetsSettings(**raw)
    assert settings.decay.hunger_per_hour == 6
    assert settings.decay.cleanliness_per_hour == 2.5
    assert settings.interactions["feeding"].cooldown_seconds == 10
    assert settings.interactions["feeding"].item_required
    assert set(settings.interactions) == set(S.interactions)
    assert list(settings.items) == ["food.rice"]  # a catalogue given replaces the default one
    assert isinstance(settings.items["food.rice"], ItemEffect)
    with pytest.raises(ValidationError):
        settings.daily_experience_cap = 1  # type: ignore[misc]
