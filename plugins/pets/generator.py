"""Pet generation: a photo and the user's choices in; species, personality, appearance features
and the ``model_data`` a 3D client renders out.

Two providers give the same ``GenerationResult`` shape, chosen by ``GeneratorSettings``
(:func:`mengchong_plugins.pets.generation.build_generator` builds the configured one):

- ``BuiltinGenerator`` (here) analyses the photo with Pillow (``analysis.py``, imported on the
  first generation, not at start) in a worker thread and maps the features to a personality (the
  first of ``pets.personalities`` whose ``look`` the photo has), materials, a pattern texture and
  a size. Deterministic: the same bytes and choices always give the same result (the one
  decorative choice, eye colour, is drawn from a hash of the bytes).
- ``HttpGenerator`` (``generator_http.py``) hands the photo to an AI service.

The species and personalities a result may have are the configured ones (``pets.species``,
``pets.personalities``), read from the settings each generator is built with.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
from collections.abc import Collection, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from mengchong_plugins.pets.generator_settings import Look, Pattern
from mengchong_plugins.pets.settings import Personality, PetsSettings

SIZE_SCALE = {"small": 0.8, "medium": 1.0, "large": 1.25}
EYE_COLORS = ("#4a2f1b", "#2f7d3b", "#2b6cb0", "#d08c1a", "#7a8b2e")  # brown, green, blue, amber, hazel
MODEL_DATA_VERSION = 1
HEX_COLOR = r"^#[0-9a-fA-F]{6}$"


class GenerationError(Exception):
    """The pet could not be generated: bad choices, an unreadable photo, or a failing provider."""


@dataclasses.dataclass(frozen=True)
class GenerationInput:
    image: bytes  # already validated JPEG/PNG/WebP, EXIF stripped
    user_selected_attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    species: str
    personality: str
    appearance_features: dict[str, Any]
    model_data: dict[str, Any]
    generator: str  # "builtin-v1" or "http:<host>"

    def as_dict(self) -> dict[str, Any]:
        return {
            "species": self.species,
            "personality": self.personality,
            "appearance_features": copy.deepcopy(self.appearance_features),
            "model_data": copy.deepcopy(self.model_data),
            "generator": self.generator,
        }

    @classmethod
    def from_dict(cls, data: Any, settings: PetsSettings) -> GenerationResult:
        """Validate a result document (stored, or a provider's answer) against the shape and the
        configured species and personalities; GenerationError if malformed."""
        known = {"species": tuple(settings.species), "personalities": tuple(settings.personalities)}
        try:
            _ResultShape.model_validate(data, context=known)
        except pydantic.ValidationError as exc:
            raise GenerationError(f"malformed generation result: {_first_error(exc)}") from exc
        return cls(
            species=data["species"],
            personality=data["personality"],
            appearance_features=copy.deepcopy(data["appearance_features"]),
            model_data=copy.deepcopy(data["model_data"]),
            generator=data["generator"],
        )


@runtime_checkable
class PetGenerator(Protocol):
    name: str

    async def generate(self, request: GenerationInput) -> GenerationResult: ...


@dataclasses.dataclass(frozen=True)
class Choices:
    """The user's selections, checked; species and personality are None when not chosen."""

    species: str | None
    size: str
    personality: str | None


def read_choices(attributes: dict[str, Any], settings: PetsSettings) -> Choices:
    """Check ``user_selected_attributes``. A species that is not one of ``pets.species`` or an
    unknown size is an error; a personality that is not one of ``pets.personalities`` is ignored
    (the photo decides it)."""
    species = _choice(attributes, "species", tuple(settings.species))
    size = _choice(attributes, "size", tuple(SIZE_SCALE)) or "medium"
    personality = attributes.get("personality")
    if isinstance(personality, str) and personality.strip().lower() in settings.personalities:
        return Choices(species, size, personality.strip().lower())
    return Choices(species, size, None)


def has_look(features: Mapping[str, Any], look: Look) -> bool:
    """Whether a photo's appearance features meet every condition of ``look``."""
    brightness, contrast = features["brightness"], features["contrast"]
    saturation = features.get("saturation", 0.0)  # an HTTP provider's features may lack it
    return (
        (look.brightness_below is None or brightness < look.brightness_below)
        and (look.brightness_at_least is None or brightness >= look.brightness_at_least)
        and (look.contrast_at_least is None or contrast >= look.contrast_at_least)
        and (look.saturation_at_least is None or saturation >= look.saturation_at_least)
        and (not look.patterns or features["pattern"] in look.patterns)
        and (not look.color_names or features["color_name"] in look.color_names)
    )


def personality_for_look(features: Mapping[str, Any], personalities: Mapping[str, Personality]) -> str:
    """The first personality, in the order configured, whose look the photo has; else the first."""
    for name, personality in personalities.items():
        if personality.look is not None and has_look(features, personality.look):
            return name
    return next(iter(personalities))


def build_model_data(
    features: dict[str, Any], species: str, height_cm: float, size: str, seed: bytes
) -> dict[str, Any]:
    """What the 3D client renders: the species' base model (``height_cm`` tall at medium size), PBR
    materials, the coat pattern, size."""
    dominant, secondary = features["dominant_color"], features["secondary_color"]
    # Short glossy fur reads as bright and contrasty; dull, flat photos get a rougher coat.
    roughness = min(0.95, max(0.35, 0.9 - 0.35 * features["contrast"] - 0.15 * features["brightness"]))
    pattern, details = features["pattern"], features["pattern_details"]
    texture: dict[str, Any] = {
        "type": pattern,
        "colors": [dominant] if pattern == "solid" else [dominant, secondary],
        "scale": details["scale"],
    }
    if pattern == "striped":
        texture |= {"stripe_count": details["stripe_count"], "angle": details["angle"]}
    elif pattern == "spotted":
        texture |= {"spot_density": details["coverage"], "spot_count": details["spot_count"]}
    elif pattern == "two-tone":
        texture |= {"split": details["coverage"], "angle": details["angle"]}
    scale = SIZE_SCALE[size]
    return {
        "version": MODEL_DATA_VERSION,
        "base_model": f"{species}_base_v1",
        "materials": {
            "body": {"base_color": dominant, "roughness": round(roughness, 3), "metallic": 0.0},
            "accent": {"base_color": secondary, "roughness": round(roughness, 3), "metallic": 0.0},
            "eyes": {"base_color": _eye_color(dominant, seed), "roughness": 0.1, "metallic": 0.0},
        },
        "pattern_texture": texture,
        "size": {"label": size, "scale": scale, "height_cm": round(height_cm * scale, 1)},
    }


class BuiltinGenerator:
    """Pillow image analysis; the CPU work runs in a worker thread."""

    name = "builtin-v1"

    def __init__(self, settings: PetsSettings) -> None:
        self._settings = settings

    async def generate(self, request: GenerationInput) -> GenerationResult:
        choices = read_choices(request.user_selected_attributes, self._settings)
        return await asyncio.to_thread(self._generate, request.image, choices)

    def _generate(self, image: bytes, choices: Choices) -> GenerationResult:
        from mengchong_plugins.pets import analysis  # here, not at the top: Pillow loads on the first photo

        try:
            features = analysis.appearance_features(image)
        except analysis.UnreadableImageError as exc:
            raise GenerationError(str(exc)) from exc
        # Telling the species from a photo is an AI provider's job: the first configured one.
        species = choices.species or next(iter(self._settings.species))
        seed = hashlib.sha256(image).digest()
        height_cm = self._settings.species[species].height_cm
        return GenerationResult(
            species=species,
            personality=choices.personality or personality_for_look(features, self._settings.personalities),
            appearance_features=features,
            model_data=build_model_data(features, species, height_cm, choices.size, seed),
            generator=self.name,
        )


class _Material(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    base_color: str = Field(pattern=HEX_COLOR)


class _PaletteEntry(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    color: str = Field(pattern=HEX_COLOR)
    share: float = Field(ge=0, le=1)


class _Features(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    dominant_color: str = Field(pattern=HEX_COLOR)
    secondary_color: str = Field(pattern=HEX_COLOR)
    color_name: str = Field(min_length=1, max_length=32)
    palette: list[_PaletteEntry] = Field(min_length=1, max_length=16)
    brightness: float = Field(ge=0, le=1)
    contrast: float = Field(ge=0, le=1)
    pattern: Pattern
    pattern_confidence: float = Field(ge=0, le=1)
    aspect_ratio: float = Field(gt=0)
    orientation: Literal["portrait", "landscape", "square"]


class _Texture(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    type: Pattern
    colors: list[str] = Field(min_length=1, max_length=8)


class _Size(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    scale: float = Field(gt=0, le=10)
    height_cm: float = Field(gt=0, le=1000)


class _ModelData(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    version: Literal[1]
    base_model: str = Field(min_length=1, max_length=64)
    materials: dict[str, _Material]
    pattern_texture: _Texture
    size: _Size

    @pydantic.field_validator("materials")
    @classmethod
    def _has_body(cls, materials: dict[str, _Material]) -> dict[str, _Material]:
        if "body" not in materials:
            raise ValueError("a body material is required")
        return materials


class _ResultShape(BaseModel):
    """A result document; validated with ``context={"species": ..., "personalities": ...}``, the
    configured names."""

    model_config = ConfigDict(extra="forbid", strict=True)
    species: str
    personality: str
    appearance_features: _Features
    model_data: _ModelData
    generator: str = Field(min_length=1, max_length=200)

    @pydantic.field_validator("species", mode="before")
    @classmethod
    def _configured_species(cls, value: Any, info: ValidationInfo) -> Any:
        return _one_of(value, info.context["species"])

    @pydantic.field_validator("personality", mode="before")
    @classmethod
    def _configured_personality(cls, value: Any, info: ValidationInfo) -> Any:
        return _one_of(value, info.context["personalities"])


def _one_of(value: Any, allowed: Collection[str]) -> Any:
    """``value`` if it is one of ``allowed``; else the error a ``Literal`` of them would raise."""
    if isinstance(value, str) and value in allowed:
        return value
    quoted = [repr(name) for name in allowed]
    expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


def _choice(attributes: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = attributes.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise GenerationError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value.strip().lower()


def _eye_color(body: str, seed: bytes) -> str:
    """A seeded pick among the eye colours that stand out from the body colour."""
    visible = [
        eye
        for eye in EYE_COLORS
        if sum(abs(int(eye[i : i + 2], 16) - int(body[i : i + 2], 16)) for i in (1, 3, 5)) > 120
    ]
    options = visible or list(EYE_COLORS)
    return options[seed[0] % len(options)]


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc']) or 'result'}: {error['msg']}"
