"""The parts the ``[pets]`` section (:mod:`mengchong_plugins.pets.settings`) is built of: status
values, decay rates, interaction rules, item effects and the level curve, each validated on its
own."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mengchong.economy.items import DESCRIPTION_MAX, NAME_MAX

StatusField = Literal["mood", "hunger", "cleanliness", "affection"]
ItemType = Literal["food", "toy"]
INTERACTION_TYPES: tuple[str, ...] = ("feeding", "petting", "playing", "cleaning", "training")
# Experience travels to the mini program as a JavaScript number; a curve past this is a config mistake.
EXPERIENCE_LIMIT = 2**53 - 1


class FrozenSettings(BaseModel):
    """Base of every part of the [pets] section: unknown keys refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusValues(FrozenSettings):
    """One number per status field, each 0..100."""

    mood: float = Field(ge=0, le=100, description="happiness")
    hunger: float = Field(ge=0, le=100, description="satiety: 100 is full, 0 is starving")
    cleanliness: float = Field(ge=0, le=100, description="100 is spotless")
    affection: float = Field(ge=0, le=100, description="how attached the pet is to its owner")


class DecaySettings(FrozenSettings):
    """How status falls while nobody looks, computed on read from the time since the last update.

    Mood falls at ``mood_base_per_hour``, plus ``mood_hungry_per_hour`` for the time hunger is
    below ``low_threshold`` and ``mood_dirty_per_hour`` for the time cleanliness is: so mood
    follows the other two, and stays path-independent because both crossing times are exact.
    """

    hunger_per_hour: float = Field(4.0, ge=0, le=100, description="satiety lost per hour")
    cleanliness_per_hour: float = Field(2.5, ge=0, le=100, description="cleanliness lost per hour")
    affection_per_hour: float = Field(0.2, ge=0, le=100, description="affection lost per hour")
    mood_base_per_hour: float = Field(1.0, ge=0, le=100, description="mood lost per hour in any case")
    mood_hungry_per_hour: float = Field(
        2.0, ge=0, le=100, description="extra mood lost per hour while hunger is below low_threshold"
    )
    mood_dirty_per_hour: float = Field(
        1.0, ge=0, le=100, description="extra mood lost per hour while cleanliness is below low_threshold"
    )
    low_threshold: float = Field(
        30.0, ge=0, le=100, description="hunger or cleanliness below this makes mood fall faster"
    )
    floors: StatusValues = Field(
        StatusValues(mood=10, hunger=5, cleanliness=5, affection=0),
        description="decay stops at these: a pet left for a month is hungry and sad, never gone",
    )


class InteractionRule(FrozenSettings):
    """What one interaction type does; an item's own effects are added on top."""

    deltas: dict[StatusField, float] = Field(
        default_factory=dict, description="status change of the interaction itself (-100..100 each)"
    )
    experience: int = Field(0, ge=0, le=10_000, description="experience the interaction itself gives")
    cooldown_seconds: float = Field(0, ge=0, description="least time between two of this type on one pet")
    item_type: ItemType | None = Field(None, description="the kind of item this interaction uses, if any")
    item_required: bool = Field(False, description="the interaction is refused without an item")
    item_multiplier: float = Field(
        1.0, ge=0, le=10, description="multiplies deltas and experience above when an item is used"
    )
    refused_when_full: bool = Field(False, description="refused while hunger >= full_threshold")

    @field_validator("deltas")
    @classmethod
    def _delta_range(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_deltas(value)

    @model_validator(mode="after")
    def _item_consistent(self) -> InteractionRule:
        if self.item_required and self.item_type is None:
            raise ValueError("item_required needs an item_type")
        return self


class ItemEffect(FrozenSettings):
    """An item's effect data, e.g. ``{"type": "food", "name": "小鱼干", "effects": {"hunger": 25}}``;
    the plugin adds each item to the kernel's item catalog with its type, name and description."""

    type: ItemType = Field(description="food is for feeding, toy for playing")
    name: str = Field(
        "", max_length=NAME_MAX, description="the name the mini program shows (empty: the item id)"
    )
    description: str = Field("", max_length=DESCRIPTION_MAX, description="a line the mini program shows")
    tags: tuple[str, ...] = Field((), description="what personalities can prefer, e.g. fish, sweet, ball")
    effects: dict[StatusField, float] = Field(
        default_factory=dict, description="status change when used (-100..100 each)"
    )
    experience: int = Field(0, ge=0, le=10_000, description="experience added when used")

    @field_validator("effects")
    @classmethod
    def _delta_range(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_deltas(value)


class LevelCurve(FrozenSettings):
    """Experience needed from level n to n+1 = round(base * growth ** (n - 1))."""

    base: float = Field(100, ge=1, description="experience from level 1 to 2")
    growth: float = Field(1.1, ge=1, le=10, description="each level needs this many times the previous")
    max_level: int = Field(100, ge=1, le=1000, description="no level-up past this")

    @model_validator(mode="after")
    def _fits(self) -> LevelCurve:
        try:
            last = self.base * self.growth ** max(self.max_level - 2, 0)
        except OverflowError:
            last = math.inf
        if last > EXPERIENCE_LIMIT:
            raise ValueError(
                f"growth: base * growth ** (max_level - 2) = {last:.3g} passes {EXPERIENCE_LIMIT}; "
                "lower growth or max_level"
            )
        return self


def _check_deltas(value: dict[str, float]) -> dict[str, float]:
    for name, delta in value.items():
        if not -100 <= delta <= 100:
            raise ValueError(f"{name}: {delta} is outside -100..100")
    return value
