"""The settings pet generation reads, part of the ``[pets]`` section: which provider makes pets
(``[pets.generator]``), the species a pet can be (``[pets.species]``) and what a photo must look
like for the built-in generator to give a personality (``[pets.personalities.<name>.look]``).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, StringConstraints, model_validator

from mengchong_plugins.pets.setting_parts import FrozenSettings

Pattern = Literal["solid", "two-tone", "striped", "spotted"]
"""The coat patterns the image analysis tells apart (``appearance_features.pattern``)."""
SpeciesName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class GeneratorSettings(FrozenSettings):
    """The ``[pets.generator]`` settings: which provider, and how to reach the HTTP one."""

    provider: Literal["builtin", "http"] = "builtin"
    http_url: str = ""
    http_timeout_seconds: float = Field(20, gt=0, le=300)
    http_retries: int = Field(2, ge=0, le=10)
    api_key: str = Field("", repr=False)

    @model_validator(mode="after")
    def _url_for_http(self) -> GeneratorSettings:
        if self.provider == "http":
            parts = urlsplit(self.http_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("http_url must be an http(s) URL when provider = 'http'")
        return self


class Species(FrozenSettings):
    """A species a pet can be; its 3D base model is ``<name>_base_v1``."""

    height_cm: float = Field(gt=0, le=1000, description="the model's height at medium size, in cm")


class Look(FrozenSettings):
    """What a photo's appearance features must be for the built-in generator to give a personality:
    every condition given holds (a look with none matches any photo)."""

    brightness_below: float | None = Field(None, ge=0, le=1, description="mean brightness (0..1) under this")
    brightness_at_least: float | None = Field(None, ge=0, le=1, description="mean brightness at least this")
    contrast_at_least: float | None = Field(None, ge=0, le=1, description="contrast (0..1) at least this")
    saturation_at_least: float | None = Field(None, ge=0, le=1, description="saturation (0..1) at least this")
    patterns: tuple[Pattern, ...] = Field((), description="the coat pattern is one of these")
    color_names: tuple[str, ...] = Field(
        (), description="the dominant colour's name (appearance_features.color_name) is one of these"
    )


DEFAULT_SPECIES: dict[str, Species] = {
    "cat": Species(height_cm=25.0),
    "dog": Species(height_cm=45.0),
    "rabbit": Species(height_cm=22.0),
    "hamster": Species(height_cm=8.0),
    "bird": Species(height_cm=15.0),
}
WARM_COLORS = ("orange", "golden", "yellow", "brown", "cream", "red")
