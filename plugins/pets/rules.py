"""The pets game rules: status decay, interactions, the daily experience cap, levels, cooldowns.

Pure functions with no I/O and no clock: the caller passes ``now``. Every time is a
timezone-aware ``datetime`` (a naive one is a ``ValueError``); durations are float seconds.
Every number comes from :class:`PetsSettings`, so no rule here names an item or a personality.
Local days (the daily cap's) are the kernel's (:mod:`mengchong.clock`).

The one order that keeps results independent of how often a pet is read: bring the status up
to ``now`` with :func:`decay`, then apply the interaction, then store the status with
``status_at = max(status_at, now)`` (what :func:`resolve_interaction` returns). Store the floats as they
are; rounding happens only for display (:meth:`Status.rounded`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

from mengchong.clock import require_aware, seconds_until_next_local_day
from mengchong_plugins.pets.setting_parts import InteractionRule, ItemEffect, StatusValues
from mengchong_plugins.pets.settings import PetsSettings

STATUS_MIN = 0.0
STATUS_MAX = 100.0


@dataclass(frozen=True)
class Status:
    """A pet's status; each value is 0..100 and hunger is satiety (100 = full)."""

    mood: float
    hunger: float
    cleanliness: float
    affection: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.mood + self.hunger + self.cleanliness + self.affection):
            # Rare: find the one to name. (The sum is NaN or infinite iff one of them is, or
            # the sum of finite ones overflows, which no value in 0..100 can.)
            for name, value in self.as_dict().items():
                if not math.isfinite(value):
                    raise ValueError(f"status {name} must be a finite number, got {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Status:
        """Build from a stored document or row: ``{"mood": .., "hunger": .., ...}``."""
        return cls(
            mood=float(values["mood"]),
            hunger=float(values["hunger"]),
            cleanliness=float(values["cleanliness"]),
            affection=float(values["affection"]),
        )

    @classmethod
    def initial(cls, settings: PetsSettings) -> Status:
        """The status of a newly adopted pet."""
        return cls.from_values(settings.initial_status)

    @classmethod
    def from_values(cls, values: StatusValues) -> Status:
        return cls(values.mood, values.hunger, values.cleanliness, values.affection)

    def as_dict(self) -> dict[str, float]:
        """The exact values, for storage. (Spelled out: ``dataclasses.asdict`` deep-copies, and
        was a quarter of a pet read's time.)"""
        return {
            "mood": self.mood,
            "hunger": self.hunger,
            "cleanliness": self.cleanliness,
            "affection": self.affection,
        }

    def rounded(self) -> dict[str, int]:
        """Whole numbers (half up), for display only: never store these."""
        return {name: _round_half_up(value) for name, value in self.as_dict().items()}

    def clamped(self) -> Status:
        """Each value brought into 0..100."""
        return Status(**{name: _clamp(value) for name, value in self.as_dict().items()})


class InteractionRefused(Exception):
    """The interaction cannot happen as asked; ``field`` names the request field to blame."""

    http_status: ClassVar[int] = 400

    def __init__(
        self,
        reason: Literal[
            "unknown_interaction", "item_required", "item_not_accepted", "wrong_item_type", "full"
        ],
        field: Literal["interaction_type", "item_id"],
        message: str,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message


class InteractionThrottled(Exception):
    """Too soon: a cooldown runs or the day's experience cap is reached; retry after ``retry_after`` s."""

    http_status: ClassVar[int] = 429

    def __init__(self, reason: Literal["cooldown", "daily_cap"], retry_after: float, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after
        self.message = message


@dataclass(frozen=True)
class InteractionOutcome:
    """What one interaction does to a status (see :func:`apply_interaction`)."""

    status: Status
    deltas: dict[str, float]  # as applied, before clamping to 0..100
    experience: int  # before the daily cap
    affection_gained: float  # the real change, after clamping


def decay(status: Status, since: datetime, now: datetime, settings: PetsSettings) -> Status:
    """The status at ``now`` when it was ``status`` at ``since`` and nobody interacted.

    Hunger, cleanliness and affection fall linearly at their hourly rates; mood falls at its
    base rate plus an extra rate for the hours hunger (and, separately, cleanliness) spends
    below ``low_threshold``. Those hours follow in closed form from the linear fall, so
    ``decay(decay(s, t0, t1), t1, t2) == decay(s, t0, t2)`` up to float rounding. Decay never
    takes a value below its floor and never raises one: a value already at or below its floor
    stays; values outside 0..100 are first clamped. ``now`` before ``since`` changes nothing.
    """
    require_aware(since, "since")
    require_aware(now, "now")
    hours = max((now - since).total_seconds(), 0.0) / 3600
    rates = settings.decay
    floors = rates.floors
    start = status.clamped()
    hungry_hours = _hours_below(
        start.hunger, rates.hunger_per_hour, floors.hunger, rates.low_threshold, hours
    )
    dirty_hours = _hours_below(
        start.cleanliness, rates.cleanliness_per_hour, floors.cleanliness, rates.low_threshold, hours
    )
    mood_drop = (
        rates.mood_base_per_hour * hours
        + rates.mood_hungry_per_hour * hungry_hours
        + rates.mood_dirty_per_hour * dirty_hours
    )
    return Status(
        mood=_fall(start.mood, mood_drop, floors.mood),
        hunger=_fall(start.hunger, rates.hunger_per_hour * hours, floors.hunger),
        cleanliness=_fall(start.cleanliness, rates.cleanliness_per_hour * hours, floors.cleanliness),
        affection=_fall(start.affection, rates.affection_per_hour * hours, floors.affection),
    )


def apply_interaction(
    status: Status,
    interaction_type: str,
    item: ItemEffect | None,
    personality: str | None,
    settings: PetsSettings,
    item_id: str | None = None,
) -> InteractionOutcome:
    """Apply one interaction to an (already decayed) status; raises :class:`InteractionRefused`.

    Status change = the rule's ``deltas`` (times ``item_multiplier`` when an item is used) plus the
    item's ``effects``. A personality that likes the interaction type enlarges the rule's positive
    deltas by its ``preference_bonus``; one that likes the item (by ``item_id`` or a tag) enlarges
    the item's positive effects. Experience = rule experience (times the multiplier) + the
    item's. An unknown personality name simply likes nothing.
    """
    rule = _rule(interaction_type, settings)
    _check_item(interaction_type, rule, item)
    if rule.refused_when_full and status.hunger >= settings.full_threshold:
        raise InteractionRefused(
            "full", "interaction_type", f"The pet is full (hunger {_round_half_up(status.hunger)})"
        )
    likes = settings.personalities.get(personality) if personality is not None else None
    bonus = 1.0 + likes.preference_bonus if likes is not None else 1.0
    multiplier = rule.item_multiplier if item is not None else 1.0
    rule_bonus = bonus if likes is not None and interaction_type in likes.preferred_interactions else 1.0

    deltas: dict[str, float] = {}
    for name, delta in rule.deltas.items():
        _add(deltas, name, delta * multiplier, rule_bonus)
    experience = _round_half_up(rule.experience * multiplier)
    if item is not None:
        liked = likes is not None and (
            (item_id is not None and item_id in likes.preferred_items)
            or not set(item.tags).isdisjoint(likes.preferred_tags)
        )
        for name, delta in item.effects.items():
            _add(deltas, name, delta, bonus if liked else 1.0)
        experience += item.experience

    values = status.as_dict()
    new_status = Status(**{name: _clamp(value + deltas.get(name, 0.0)) for name, value in values.items()})
    return InteractionOutcome(
        status=new_status,
        deltas=deltas,
        experience=experience,
        affection_gained=new_status.affection - status.affection,
    )


def cap_experience(gained: int, earned_today: int, settings: PetsSettings) -> int:
    """How much of ``gained`` the pet may still earn today (0 once the daily cap is reached)."""
    room = settings.daily_experience_cap - max(earned_today, 0)
    return max(0, min(gained, room))


def experience_to_next(level: int, settings: PetsSettings) -> int | None:
    """Experience needed from ``level`` to ``level + 1``: round(base * growth ** (level - 1)); None at max."""
    curve = settings.level_curve
    if level >= curve.max_level:
        return None
    return max(1, _round_half_up(curve.base * curve.growth ** (max(level, 1) - 1)))


def level_for(level: int, experience: int, settings: PetsSettings) -> tuple[int, int, list[int]]:
    """Spend ``experience`` (held towards the next level) on level-ups, several at once if enough.

    Returns (new level, experience left towards the next level, the levels reached on the way).
    At ``max_level`` it stops; the experience left is kept, not discarded.
    """
    if level < 1 or experience < 0:
        raise ValueError(f"level must be >= 1 and experience >= 0, got {level} and {experience}")
    passed: list[int] = []
    while (need := experience_to_next(level, settings)) is not None and experience >= need:
        experience -= need
        level += 1
        passed.append(level)
    return level, experience, passed


def cooldown_left(
    last_at: datetime | None, now: datetime, interaction_type: str, settings: PetsSettings
) -> float:
    """Seconds until this interaction type is allowed again on the pet; 0.0 when it is."""
    rule = _rule(interaction_type, settings)
    if last_at is None:
        return 0.0
    require_aware(last_at, "last_at")
    require_aware(now, "now")
    elapsed = max((now - last_at).total_seconds(), 0.0)  # a clock going back never lengthens the wait
    return max(0.0, rule.cooldown_seconds - elapsed)


@dataclass(frozen=True)
class PetState:
    """What :func:`resolve_interaction` needs to know of a pet, as stored."""

    status: Status
    status_at: datetime  # when `status` was true
    level: int
    experience: int  # towards the next level
    personality: str | None = None


@dataclass(frozen=True)
class InteractionResult:
    """Everything to store and answer after an interaction."""

    status: Status
    status_at: datetime
    level: int
    experience: int
    experience_gained: int  # after the daily cap
    levels_passed: list[int] = field(default_factory=list)
    affection_gained: float = 0.0
    deltas: dict[str, float] = field(default_factory=dict)

    @property
    def leveled_up(self) -> bool:
        return bool(self.levels_passed)


def resolve_interaction(
    pet: PetState,
    interaction_type: str,
    item: ItemEffect | None,
    *,
    now: datetime,
    last_at: datetime | None,
    earned_today: int,
    timezone: str,
    settings: PetsSettings,
    item_id: str | None = None,
) -> InteractionResult:
    """One whole interaction: checks, decay to ``now``, effects, daily cap, level-ups.

    ``last_at`` is the pet's last interaction of this type; ``earned_today`` the experience the
    pet earned on the local day of ``now``. Raises :class:`InteractionRefused` (400) or
    :class:`InteractionThrottled` (429, with ``retry_after``); nothing should be stored then.
    """
    rule = _rule(interaction_type, settings)
    _check_item(interaction_type, rule, item)
    wait = cooldown_left(last_at, now, interaction_type, settings)
    if wait > 0:
        raise InteractionThrottled("cooldown", wait, f"Try {interaction_type} again in {math.ceil(wait)} s")
    if settings.daily_cap_refuses and earned_today >= settings.daily_experience_cap:
        wait = seconds_until_next_local_day(now, timezone)
        raise InteractionThrottled("daily_cap", wait, "The pet has learned enough for today")
    status_at = max(pet.status_at, now)
    outcome = apply_interaction(
        decay(pet.status, pet.status_at, now, settings),
        interaction_type,
        item,
        pet.personality,
        settings,
        item_id,
    )
    gained = cap_experience(outcome.experience, earned_today, settings)
    level, experience, passed = level_for(pet.level, pet.experience + gained, settings)
    return InteractionResult(
        status=outcome.status,
        status_at=status_at,
        level=level,
        experience=experience,
        experience_gained=gained,
        levels_passed=passed,
        affection_gained=outcome.affection_gained,
        deltas=outcome.deltas,
    )


def pet_at(pet: PetState, now: datetime, settings: PetsSettings) -> PetState:
    """The pet as read at ``now``: status decayed, ``status_at`` moved forward (never back)."""
    status = decay(pet.status, pet.status_at, now, settings)
    # Built field by field: dataclasses.replace introspects the fields on every call.
    return PetState(status, max(pet.status_at, now), pet.level, pet.experience, pet.personality)


def _rule(interaction_type: str, settings: PetsSettings) -> InteractionRule:
    rule = settings.interactions.get(interaction_type)
    if rule is None:
        known = ", ".join(settings.interactions)
        raise InteractionRefused(
            "unknown_interaction", "interaction_type", f"Unknown interaction {interaction_type!r} ({known})"
        )
    return rule


def _check_item(interaction_type: str, rule: InteractionRule, item: ItemEffect | None) -> None:
    if item is None:
        if rule.item_required:
            raise InteractionRefused(
                "item_required", "item_id", f"{interaction_type} needs a {rule.item_type}"
            )
        return
    if rule.item_type is None:
        raise InteractionRefused("item_not_accepted", "item_id", f"{interaction_type} takes no item")
    if item.type != rule.item_type:
        raise InteractionRefused(
            "wrong_item_type", "item_id", f"{interaction_type} needs a {rule.item_type}, not a {item.type}"
        )


def _hours_below(value: float, rate: float, floor: float, threshold: float, hours: float) -> float:
    """Of the next ``hours``, how many a value falling at ``rate`` to ``floor`` spends below ``threshold``."""
    if value < threshold:
        return hours
    if rate <= 0 or floor >= threshold:  # it never gets below
        return 0.0
    return max(0.0, hours - (value - threshold) / rate)


def _fall(value: float, drop: float, floor: float) -> float:
    return value if value <= floor else max(floor, value - drop)


def _add(deltas: dict[str, float], name: str, delta: float, bonus: float) -> None:
    deltas[name] = deltas.get(name, 0.0) + (delta * bonus if delta > 0 else delta)


def _clamp(value: float) -> float:
    return min(STATUS_MAX, max(STATUS_MIN, value))


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)
