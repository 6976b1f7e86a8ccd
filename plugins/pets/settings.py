"""The ``[pets]`` config section: every game number of the pets plugin, with its default.

Status values (mood, hunger, cleanliness, affection) run 0..100; hunger is satiety, so 100 is
full. Rates are points per hour. ``items`` are the pets' items with their names and effects
(:class:`ItemEffect`); the plugin adds them to the kernel's item catalog. ``interactions``
always holds all five interaction types: a config file that sets only
``[pets.interactions.feeding] cooldown_seconds = 60`` keeps every other default. ``species`` and
``personalities`` are the only ones a pet can have; what generation reads is in
:mod:`mengchong_plugins.pets.generator_settings`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from mengchong.economy.items import item_id_problem
from mengchong_plugins.pets.generator_settings import (
    DEFAULT_SPECIES,
    WARM_COLORS,
    GeneratorSettings,
    Look,
    Species,
    SpeciesName,
)
from mengchong_plugins.pets.setting_parts import (
    INTERACTION_TYPES,
    DecaySettings,
    FrozenSettings,
    InteractionRule,
    ItemEffect,
    LevelCurve,
    StatusValues,
)


class Personality(FrozenSettings):
    """What a pet of this personality likes (liked things give ``preference_bonus`` more), and the
    look of a photo that gives it."""

    preferred_items: tuple[str, ...] = Field((), description="item ids this personality likes")
    preferred_tags: tuple[str, ...] = Field((), description="item tags this personality likes")
    preferred_interactions: tuple[str, ...] = Field((), description="interaction types it likes")
    preference_bonus: float = Field(
        0.5, ge=0, le=10, description="0.5 = positive status changes of liked things are 50% larger"
    )
    look: Look | None = Field(
        None, description="a photo of this look gets this personality (none: only when the user chooses it)"
    )

    @field_validator("preferred_interactions")
    @classmethod
    def _known_interactions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(INTERACTION_TYPES))
        if unknown:
            raise ValueError(
                f"unknown interaction type {unknown[0]!r} (known: {', '.join(INTERACTION_TYPES)})"
            )
        return value


def _rule(**fields: Any) -> dict[str, Any]:
    return fields


DEFAULT_INTERACTIONS: dict[str, dict[str, Any]] = {
    # Feeding's satiety comes from the food item; the interaction itself adds a little.
    "feeding": _rule(
        deltas={"mood": 2, "affection": 1},
        experience=5,
        cooldown_seconds=60,
        item_type="food",
        item_required=True,
        refused_when_full=True,
    ),
    "petting": _rule(deltas={"mood": 5, "affection": 2}, experience=2, cooldown_seconds=30),
    "playing": _rule(
        deltas={"mood": 10, "hunger": -3, "cleanliness": -4, "affection": 2},
        experience=8,
        cooldown_seconds=120,
        item_type="toy",
        item_multiplier=1.5,
    ),
    "cleaning": _rule(
        deltas={"cleanliness": 40, "mood": 3, "affection": 1}, experience=3, cooldown_seconds=300
    ),
    "training": _rule(deltas={"mood": -3, "hunger": -5, "affection": 1}, experience=20, cooldown_seconds=600),
}

DEFAULT_ITEMS: dict[str, ItemEffect] = {
    "food.kibble": ItemEffect(
        type="food",
        name="宠物粮",
        description="日常主食，管饱",
        tags=("dry", "basic"),
        effects={"hunger": 20, "mood": 2, "affection": 1},
        experience=2,
    ),
    "food.fish": ItemEffect(
        type="food",
        name="小鱼干",
        description="香喷喷的小鱼干，爱吃鱼的宠物最喜欢",
        tags=("fish", "meat"),
        effects={"hunger": 30, "mood": 6, "affection": 2},
        experience=4,
    ),
    "food.cake": ItemEffect(
        type="food",
        name="宠物蛋糕",
        description="甜甜的蛋糕，心情大好，就是会吃得脏兮兮",
        tags=("sweet", "treat"),
        effects={"hunger": 15, "mood": 12, "affection": 3, "cleanliness": -5},
        experience=5,
    ),
    "toy.ball": ItemEffect(
        type="toy",
        name="小皮球",
        description="一起玩球，活力满满",
        tags=("ball", "active"),
        effects={"mood": 10, "affection": 2, "hunger": -2},
        experience=4,
    ),
    "toy.feather": ItemEffect(
        type="toy",
        name="逗猫羽毛棒",
        description="晃一晃羽毛棒，追个不停",
        tags=("feather", "chase"),
        effects={"mood": 8, "affection": 3},
        experience=3,
    ),
}

# In the order the built-in generator tries their looks on a photo.
DEFAULT_PERSONALITIES: dict[str, Personality] = {
    "shy": Personality(
        preferred_items=("food.fish",),
        preferred_interactions=("petting", "cleaning"),
        look=Look(brightness_below=0.3),
    ),
    "playful": Personality(
        preferred_tags=("ball", "active"),
        preferred_interactions=("playing",),
        look=Look(brightness_at_least=0.45, contrast_at_least=0.4),
    ),
    "curious": Personality(
        preferred_tags=("feather", "chase"),
        preferred_interactions=("training",),
        look=Look(patterns=("striped", "spotted")),
    ),
    "greedy": Personality(
        preferred_tags=("sweet", "treat", "meat"),
        preferred_interactions=("feeding",),
        look=Look(saturation_at_least=0.5, color_names=WARM_COLORS),
    ),
    "calm": Personality(preferred_tags=("feather",), preferred_interactions=("petting",), look=Look()),
}


class PetsSettings(FrozenSettings):
    """The ``[pets]`` section of config.toml."""

    max_pets_per_user: int = Field(3, ge=1, le=100, description="adopted pets one user may keep")
    photo_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="larger uploads get 413; the whole multipart body may be 64 KiB more",
    )
    photo_max_pixels: int = Field(
        4096 * 3072,
        ge=1,
        description="width * height above this is refused from the header, before decoding: "
        "4096x3072, a 12-megapixel phone photo (WeChat's compressed chooseImage sends 1-4); "
        "decoded, one costs 4 bytes a pixel (48 MiB here); a WebP, which Pillow decodes four "
        "times over, may have a quarter of this",
    )
    photo_max_side: int = Field(
        2048,
        ge=128,
        le=8192,
        description="stored photos are shrunk to this longest side, in pixels (the generator "
        "analyses 128); a large JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still gives it",
    )
    photo_decode_slots: int = Field(
        2,
        ge=1,
        le=64,
        description="photos decoded at once, each in a worker thread: decoding holds about "
        "slots * 1.4 * 4 bytes * photo_max_pixels (measured: +140 MiB at the defaults)",
    )
    photo_decode_wait_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="how long an upload waits for a decode slot before 503 with Retry-After; "
        "keep it under server.request_timeout_seconds, with time left for the decode (under 1 s)",
    )
    generation_result_ttl_seconds: int = Field(
        86400, ge=60, description="how long a generated pet waits for adoption"
    )
    initial_status: StatusValues = Field(
        StatusValues(mood=80, hunger=80, cleanliness=80, affection=20),
        description="status of a newly adopted pet",
    )
    decay: DecaySettings = Field(DecaySettings(), description="status decay while nobody looks")
    decay_write_back_seconds: int = Field(
        300,
        ge=0,
        description="a read stores the decayed status when the stored one is at least this old "
        "(0: every read); what a read shows is the same either way",
    )
    full_threshold: float = Field(
        90,
        gt=0,
        le=100,
        description="interactions with refused_when_full (feeding) are refused at this hunger",
    )
    daily_experience_cap: int = Field(200, gt=0, description="experience one pet can earn per local day")
    daily_cap_refuses: bool = Field(
        True,
        description="true: at the cap interactions get 429 until the next local day; "
        "false: they still change status but earn no experience",
    )
    level_curve: LevelCurve = Field(LevelCurve(), description="experience needed per level")
    species: dict[SpeciesName, Species] = Field(
        default_factory=lambda: dict(DEFAULT_SPECIES),
        min_length=1,
        description="species name -> its model; the first is what the built-in generator makes "
        "when the user chose none",
    )
    generator: GeneratorSettings = Field(
        GeneratorSettings(), description="the built-in image analysis, or an HTTP AI provider"
    )
    # Field order matters: `interactions` is checked against `items`, which must come first.
    items: dict[str, ItemEffect] = Field(
        default_factory=lambda: dict(DEFAULT_ITEMS),
        description="item id -> its name, description and effect data; each is in the item catalog",
    )
    personalities: dict[str, Personality] = Field(
        default_factory=lambda: dict(DEFAULT_PERSONALITIES),
        min_length=1,
        description="personality name -> its likes and look; the built-in generator gives a photo "
        "the first whose look it has, else the first listed",
    )
    interactions: dict[str, InteractionRule] = Field(
        default_factory=lambda: {
            name: InteractionRule(**rule) for name, rule in DEFAULT_INTERACTIONS.items()
        },
        description="interaction type -> its rule; keys given here are merged over the defaults",
        validate_default=True,  # so that a replaced `items` is checked against the default rules
    )

    @field_validator("items")
    @classmethod
    def _item_ids(cls, value: dict[str, ItemEffect]) -> dict[str, ItemEffect]:
        for item_id in value:
            problem = item_id_problem(item_id)
            if problem is not None:
                raise ValueError(f"{item_id!r}: {problem}")
        return value

    @field_validator("interactions", mode="before")
    @classmethod
    def _merge_over_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic reports the type error
        unknown = sorted(set(value) - set(INTERACTION_TYPES))
        if unknown:
            raise ValueError(
                f"unknown interaction type {unknown[0]!r} (known: {', '.join(INTERACTION_TYPES)})"
            )
        merged: dict[str, Any] = {}
        for name in INTERACTION_TYPES:
            given = value.get(name, {})
            if isinstance(given, InteractionRule):
                merged[name] = given
            elif isinstance(given, dict):
                merged[name] = {**DEFAULT_INTERACTIONS[name], **given}
            else:
                merged[name] = given  # pydantic reports the type error
        return merged

    @field_validator("interactions")
    @classmethod
    def _items_exist(
        cls, value: dict[str, InteractionRule], info: ValidationInfo
    ) -> dict[str, InteractionRule]:
        items: dict[str, ItemEffect] | None = info.data.get("items")
        if items is None:
            return value  # `items` itself failed and is reported
        kinds = {item.type for item in items.values()}
        for name, rule in value.items():
            if rule.item_required and rule.item_type not in kinds:
                raise ValueError(f"{name} requires a {rule.item_type} item but `items` has none")
        return value
