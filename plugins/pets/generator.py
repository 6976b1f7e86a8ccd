"""Pet generation: a photo and the user's choices in; species, personality, appearance features
and the ``model_data`` a 3D client renders out.

Two providers give the same ``GenerationResult`` shape, chosen by ``GeneratorSettings``:

- ``BuiltinGenerator`` analyses the photo with Pillow (``analysis.py``) in a worker thread and
  maps the features to materials, a pattern texture and a size. Deterministic: the same bytes
  and choices always give the same result (the one decorative choice, eye colour, is drawn from
  a hash of the bytes).
- ``HttpGenerator`` POSTs the photo to an AI service as JSON ``{"image_base64": <standard base64>,
  "image_mime_type": "image/jpeg" | "image/png" | "image/webp", "user_selected_attributes": {...}}``
  (``Authorization: Bearer <api_key>`` when one is set), retries 5xx answers, 429, timeouts and
  connection failures with exponential backoff, and expects a JSON object of the result shape
  back (``species``, ``personality``, ``appearance_features``, ``model_data``). An answer that
  does not validate raises ``GenerationError``; nothing half-valid is ever returned.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import hashlib
import logging
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
import orjson
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .analysis import UnreadableImageError, appearance_features

log = logging.getLogger("mengchong.pets.generator")

SPECIES = ("cat", "dog", "rabbit", "hamster", "bird")
DEFAULT_SPECIES = "cat"
PERSONALITIES = ("playful", "calm", "greedy", "shy", "curious")
PATTERNS = ("solid", "two-tone", "striped", "spotted")
SIZE_SCALE = {"small": 0.8, "medium": 1.0, "large": 1.25}
HEIGHT_CM = {"cat": 25.0, "dog": 45.0, "rabbit": 22.0, "hamster": 8.0, "bird": 15.0}  # at medium size
EYE_COLORS = ("#4a2f1b", "#2f7d3b", "#2b6cb0", "#d08c1a", "#7a8b2e")  # brown, green, blue, amber, hazel
WARM_COLORS = frozenset({"orange", "golden", "yellow", "brown", "cream", "red"})
MODEL_DATA_VERSION = 1
MAX_ANSWER_BYTES = 1 << 20
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
    def from_dict(cls, data: Any) -> GenerationResult:
        """Validate a result document (stored, or a provider's answer); GenerationError if malformed."""
        try:
            _ResultShape.model_validate(data)
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


class GeneratorSettings(BaseModel):
    """The ``[pets.generator]`` settings: which provider, and how to reach the HTTP one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["builtin", "http"] = "builtin"
    http_url: str = ""
    http_timeout_seconds: float = Field(20, gt=0, le=300)
    http_retries: int = Field(2, ge=0, le=10)
    api_key: str = Field("", repr=False)

    @pydantic.model_validator(mode="after")
    def _url_for_http(self) -> GeneratorSettings:
        if self.provider == "http":
            parts = urlsplit(self.http_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("http_url must be an http(s) URL when provider = 'http'")
        return self


@dataclasses.dataclass(frozen=True)
class Choices:
    """The user's selections, checked; species and personality are None when not chosen."""

    species: str | None
    size: str
    personality: str | None


def read_choices(attributes: dict[str, Any]) -> Choices:
    """Check ``user_selected_attributes``. An unknown species or size is an error; an unknown
    personality is ignored (the photo decides it)."""
    species = _choice(attributes, "species", SPECIES)
    size = _choice(attributes, "size", tuple(SIZE_SCALE)) or "medium"
    personality = attributes.get("personality")
    if isinstance(personality, str) and personality.strip().lower() in PERSONALITIES:
        return Choices(species, size, personality.strip().lower())
    return Choices(species, size, None)


def derive_personality(features: dict[str, Any]) -> str:
    """A personality from the look, first rule that matches: dark -> shy; bright and contrasty
    -> playful; striped or spotted -> curious; a warm, saturated coat -> greedy; else calm."""
    if features["brightness"] < 0.3:
        return "shy"
    if features["brightness"] >= 0.45 and features["contrast"] >= 0.4:
        return "playful"
    if features["pattern"] in ("striped", "spotted"):
        return "curious"
    if features.get("saturation", 0) >= 0.5 and features["color_name"] in WARM_COLORS:
        return "greedy"
    return "calm"


def build_model_data(features: dict[str, Any], species: str, size: str, seed: bytes) -> dict[str, Any]:
    """What the 3D client renders: the species' base model, PBR materials, the coat pattern, size."""
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
        "size": {"label": size, "scale": scale, "height_cm": round(HEIGHT_CM[species] * scale, 1)},
    }


class BuiltinGenerator:
    """Pillow image analysis; the CPU work runs in a worker thread."""

    name = "builtin-v1"

    async def generate(self, request: GenerationInput) -> GenerationResult:
        choices = read_choices(request.user_selected_attributes)
        return await asyncio.to_thread(self._generate, request.image, choices)

    def _generate(self, image: bytes, choices: Choices) -> GenerationResult:
        try:
            features = appearance_features(image)
        except UnreadableImageError as exc:
            raise GenerationError(str(exc)) from exc
        species = choices.species or DEFAULT_SPECIES  # telling species from a photo is the AI's job
        seed = hashlib.sha256(image).digest()
        return GenerationResult(
            species=species,
            personality=choices.personality or derive_personality(features),
            appearance_features=features,
            model_data=build_model_data(features, species, choices.size, seed),
            generator=self.name,
        )


class HttpGenerator:
    """An AI service behind HTTP (protocol in the module doc). Without a ``session`` it opens its
    own on first use; then call ``close()`` at shutdown."""

    def __init__(
        self,
        settings: GeneratorSettings,
        session: aiohttp.ClientSession | None = None,
        *,
        backoff_seconds: float = 0.5,
    ) -> None:
        parts = urlsplit(settings.http_url)
        self.name = f"http:{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._backoff = backoff_seconds

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def generate(self, request: GenerationInput) -> GenerationResult:
        choices = read_choices(request.user_selected_attributes)
        body = orjson.dumps(
            {
                "image_base64": base64.b64encode(request.image).decode("ascii"),
                "image_mime_type": _mime_type(request.image),
                "user_selected_attributes": request.user_selected_attributes,
            }
        )
        headers = {"Content-Type": "application/json"}
        if self._settings.api_key:
            headers["Authorization"] = f"Bearer {self._settings.api_key}"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._settings.http_timeout_seconds)
        attempts = self._settings.http_retries + 1
        failure = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                async with self._session.post(
                    self._settings.http_url, data=body, headers=headers, timeout=timeout
                ) as response:
                    if response.status >= 500 or response.status == 429:
                        failure = f"HTTP {response.status}"
                    elif response.status != 200:
                        raise GenerationError(f"{self.name} refused the photo: HTTP {response.status}")
                    else:
                        return self._parse(await _read_capped(response), choices)
            except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning(
                "pet generator %s attempt %d/%d failed: %s", self.name, attempt + 1, attempts, failure
            )
        raise GenerationError(f"{self.name} failed after {attempts} attempts: {failure}")

    def _parse(self, raw: bytes, choices: Choices) -> GenerationResult:
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise GenerationError(f"{self.name} answered with invalid JSON") from exc
        if not isinstance(answer, dict):
            raise GenerationError(f"{self.name} answered with JSON that is not an object")
        result = GenerationResult.from_dict({**answer, "generator": self.name})
        if choices.species and result.species != choices.species:
            # model_data (the base model) depends on the species: this answer can't be patched.
            raise GenerationError(f"{self.name} made a {result.species}, the user chose a {choices.species}")
        if choices.personality and result.personality != choices.personality:
            return dataclasses.replace(result, personality=choices.personality)
        return result


def build_generator(
    settings: GeneratorSettings, session: aiohttp.ClientSession | None = None
) -> PetGenerator:
    if settings.provider == "http":
        return HttpGenerator(settings, session)
    return BuiltinGenerator()


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
    pattern: Literal["solid", "two-tone", "striped", "spotted"]
    pattern_confidence: float = Field(ge=0, le=1)
    aspect_ratio: float = Field(gt=0)
    orientation: Literal["portrait", "landscape", "square"]


class _Texture(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    type: Literal["solid", "two-tone", "striped", "spotted"]
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
    model_config = ConfigDict(extra="forbid", strict=True)
    species: Literal["cat", "dog", "rabbit", "hamster", "bird"]
    personality: Literal["playful", "calm", "greedy", "shy", "curious"]
    appearance_features: _Features
    model_data: _ModelData
    generator: str = Field(min_length=1, max_length=200)


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


def _mime_type(image: bytes) -> str:
    if image.startswith(b"\x89PNG"):
        return "image/png"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise GenerationError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(part) for part in error['loc']) or 'result'}: {error['msg']}"
