"""Pet generation with the built-in Pillow analyser, on photos drawn here with Pillow: stripes, a
solid orange coat, orange with white spots, black and white halves. The HTTP provider is tested in
test_generator_http.py."""

from __future__ import annotations

import asyncio
import io
import json
import random
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw

from mengchong_plugins.pets.analysis import color_name
from mengchong_plugins.pets.generator import (
    BuiltinGenerator,
    GenerationError,
    GenerationInput,
    GenerationResult,
)
from mengchong_plugins.pets.settings import PetsSettings

ORANGE = (255, 140, 0)
SETTINGS = PetsSettings()


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 85} if fmt in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


def striped(size: tuple[int, int] = (400, 300), band: int = 40, vertical: bool = True) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for start in range(0, size[0] if vertical else size[1], 2 * band):
        end = start + band - 1
        draw.rectangle((start, 0, end, size[1]) if vertical else (0, start, size[0], end), fill="black")
    return image


def diagonal_stripes() -> Image.Image:
    # Vertical stripes turned 45 degrees counter-clockwise: they run from top left to bottom right.
    return striped((800, 800)).rotate(45, resample=Image.Resampling.BICUBIC).crop((200, 250, 600, 550))


def noisy(
    color: tuple[int, int, int], size: tuple[int, int], seed: int = 7, amplitude: int = 24
) -> Image.Image:
    """A flat colour with seeded per-pixel noise of +-amplitude/2 in every channel."""
    rng = random.Random(seed)
    base = Image.new("RGB", size, tuple(max(0, c - amplitude // 2) for c in color))
    noise = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return ImageChops.add(base, noise.point(lambda v: v * amplitude // 255))


def orange_spotted(
    columns: int = 5, rows: int = 3, radius: float = 17, size: tuple[int, int] = (400, 300)
) -> Image.Image:
    """White spots on a jittered grid, never touching each other."""
    image = noisy(ORANGE, size)
    draw, rng = ImageDraw.Draw(image), random.Random(3)
    for column in range(columns):
        for row in range(rows):
            x = (column + 0.5) * size[0] / columns + rng.uniform(-radius / 2, radius / 2)
            y = (row + 0.5) * size[1] / rows + rng.uniform(-radius / 2, radius / 2)
            r = rng.uniform(radius * 0.8, radius * 1.2)
            draw.ellipse((x - r, y - r, x + r, y + r), fill="white")
    return image


def halves(vertical_split: bool = True) -> Image.Image:
    image = Image.new("RGB", (400, 300), "black")
    ImageDraw.Draw(image).rectangle(
        (200, 0, 399, 299) if vertical_split else (0, 150, 399, 299), fill="white"
    )
    return image


async def generate(image: bytes, **attributes: Any) -> GenerationResult:
    return await BuiltinGenerator(SETTINGS).generate(GenerationInput(image, attributes))


@pytest.mark.parametrize(
    ("image", "angle", "stripe_count"),
    [(striped(), 90.0, 5), (striped(vertical=False), 0.0, 4), (diagonal_stripes(), 135.0, 6)],
    ids=["vertical", "horizontal", "diagonal"],
)
async def test_black_and_white_stripes_are_striped(
    image: Image.Image, angle: float, stripe_count: int
) -> None:
    result = await generate(encode(image))
    features = result.appearance_features
    assert features["pattern"] == "striped"
    assert features["pattern_confidence"] >= 0.8
    assert {features["color_name"], features["secondary_color_name"]} == {"black", "white"}
    assert {features["dominant_color"], features["secondary_color"]} <= {"#000000", "#010101", "#ffffff"}
    assert features["contrast"] >= 0.9
    assert features["saturation"] < 0.05
    assert 0.45 <= features["brightness"] <= 0.55
    assert features["orientation"] == "landscape"
    texture = result.model_data["pattern_texture"]
    assert texture["type"] == "striped"
    assert (texture["angle"], texture["stripe_count"]) == (angle, stripe_count)
    assert set(texture["colors"]) == {features["dominant_color"], features["secondary_color"]}


async def test_orange_coat_is_solid_orange_portrait() -> None:
    result = await generate(encode(noisy(ORANGE, (300, 400))))
    features = result.appearance_features
    assert features["pattern"] == "solid"
    assert features["pattern_confidence"] >= 0.9
    assert features["color_name"] == "orange"
    dominant = [int(features["dominant_color"][i : i + 2], 16) for i in (1, 3, 5)]
    assert all(abs(a - b) <= 24 for a, b in zip(dominant, ORANGE, strict=True))
    assert features["palette"][0] == {"color": features["dominant_color"], "share": 1.0}
    assert features["contrast"] < 0.1
    assert features["saturation"] > 0.8
    assert (features["aspect_ratio"], features["orientation"]) == (0.75, "portrait")
    assert (features["width"], features["height"]) == (300, 400)
    assert result.model_data["pattern_texture"]["colors"] == [features["dominant_color"]]
    assert result.model_data["materials"]["body"]["base_color"] == features["dominant_color"]
    assert result.personality == "greedy"  # warm, saturated, calm picture: see derive_personality


@pytest.mark.parametrize(
    ("fmt", "columns", "rows", "radius"),
    [("PNG", 5, 3, 17), ("JPEG", 5, 3, 17), ("WEBP", 5, 3, 17), ("JPEG", 8, 6, 10), ("WEBP", 10, 7, 8)],
)
async def test_orange_with_white_spots_is_spotted(fmt: str, columns: int, rows: int, radius: float) -> None:
    result = await generate(encode(orange_spotted(columns, rows, radius), fmt))
    features = result.appearance_features
    assert features["pattern"] == "spotted"
    assert features["pattern_confidence"] >= 0.8
    assert (features["color_name"], features["secondary_color_name"]) == ("orange", "white")
    assert 0.8 * columns * rows <= features["pattern_details"]["spot_count"] <= columns * rows
    texture = result.model_data["pattern_texture"]
    assert texture["type"] == "spotted"
    assert 0.05 <= texture["spot_density"] <= 0.2
    assert texture["colors"] == [features["dominant_color"], features["secondary_color"]]


async def test_thin_diagonal_dashes_are_not_spots() -> None:
    # Each dash is as wide as it is tall, but fills under a third of its box: not a compact spot.
    image = noisy(ORANGE, (400, 300))
    for column in range(5):
        for row in range(3):
            x, y, rise = (column + 0.5) * 80, (row + 0.5) * 100, 30 if (column + row) % 2 else -30
            ImageDraw.Draw(image).line((x - 30, y - rise, x + 30, y + rise), fill=(60, 30, 10), width=12)
    features = (await generate(encode(image))).appearance_features
    assert (features["pattern"], features["color_name"], features["secondary_color_name"]) == (
        "solid",
        "orange",
        "brown",
    )


@pytest.mark.parametrize(
    ("vertical_split", "angle"), [(True, 90.0), (False, 0.0)], ids=["left-right", "top-bottom"]
)
async def test_black_and_white_halves_are_two_tone(vertical_split: bool, angle: float) -> None:
    result = await generate(encode(halves(vertical_split)))
    features = result.appearance_features
    assert features["pattern"] == "two-tone"
    assert features["pattern_confidence"] >= 0.8
    assert {features["dominant_color"], features["secondary_color"]} == {"#000000", "#ffffff"}
    assert [entry["share"] for entry in features["palette"]] == [0.5, 0.5]
    assert features["contrast"] == 1.0
    texture = result.model_data["pattern_texture"]
    assert (texture["type"], texture["angle"], texture["split"]) == ("two-tone", angle, 0.5)


async def test_palette_is_top_five_hex_colours_with_shares_summing_to_one() -> None:
    for image in (diagonal_stripes(), orange_spotted(), noisy(ORANGE, (50, 50))):
        palette = (await generate(encode(image, "JPEG"))).appearance_features["palette"]
        assert 1 <= len(palette) <= 5
        assert all(len(entry["color"]) == 7 and entry["color"].startswith("#") for entry in palette)
        shares = [entry["share"] for entry in palette]
        assert sum(shares) == pytest.approx(1, abs=0.002)
        assert shares == sorted(shares, reverse=True)


async def test_same_bytes_give_the_same_result() -> None:
    for data in (encode(orange_spotted(), "JPEG"), encode(diagonal_stripes(), "WEBP")):
        first, second = await generate(data), await generate(data)
        assert first.as_dict() == second.as_dict()


async def test_different_photos_give_different_sensible_features() -> None:
    stripes = await generate(encode(striped()))
    orange = await generate(encode(noisy(ORANGE, (300, 400))))
    assert stripes.appearance_features["pattern"] != orange.appearance_features["pattern"]
    assert stripes.appearance_features["color_name"] in ("black", "white")
    assert orange.appearance_features["color_name"] == "orange"
    assert stripes.appearance_features["orientation"] != orange.appearance_features["orientation"]
    assert stripes.personality == "playful"
    assert orange.personality == "greedy"
    assert stripes.model_data["materials"] != orange.model_data["materials"]


async def test_a_24_megapixel_photo_analyses_without_blocking_the_event_loop() -> None:
    data = encode(striped((6000, 4000), band=300), "JPEG")
    task = asyncio.create_task(generate(data))
    ticks = 0
    while not task.done():
        ticks += 1
        await asyncio.sleep(0.001)
    # Analysing in the event loop's own thread would finish the task in its first step.
    assert ticks >= 2
    features = task.result().appearance_features
    assert (features["width"], features["height"], features["aspect_ratio"]) == (6000, 4000, 1.5)
    assert features["pattern"] == "striped"
    assert features["pattern_details"]["stripe_count"] == 10


async def test_user_choices_flow_into_species_personality_and_size() -> None:
    data = encode(striped())
    chosen = await generate(data, species=" Dog ", size="large", personality="calm")
    default = await generate(data)
    assert (chosen.species, chosen.personality) == ("dog", "calm")
    assert (default.species, default.personality) == ("cat", "playful")
    assert chosen.model_data["base_model"] == "dog_base_v1"
    assert default.model_data["base_model"] == "cat_base_v1"
    assert chosen.model_data["size"]["scale"] == 1.25
    assert default.model_data["size"]["scale"] == 1.0
    assert chosen.model_data["size"]["height_cm"] > default.model_data["size"]["height_cm"]
    small_hamster = await generate(data, species="hamster", size="small", personality="sleepy")
    assert small_hamster.personality == "playful"  # an unknown personality is derived from the photo
    assert small_hamster.model_data["size"] == {"label": "small", "scale": 0.8, "height_cm": 6.4}


@pytest.mark.parametrize("attributes", [{"species": "dragon"}, {"species": 3}, {"size": "huge"}])
async def test_unknown_species_or_size_is_refused(attributes: dict[str, Any]) -> None:
    with pytest.raises(GenerationError, match=r"species|size"):
        await generate(encode(striped()), **attributes)


async def test_unreadable_bytes_are_a_generation_error() -> None:
    with pytest.raises(GenerationError, match="not a readable image"):
        await generate(b"\x89PNG\r\n\x1a\n not really")


async def test_transparent_background_is_ignored() -> None:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((40, 40, 160, 160), fill=(90, 60, 30, 255))
    features = (await generate(encode(image))).appearance_features
    assert (features["pattern"], features["color_name"]) == ("solid", "brown")


async def test_result_round_trips_through_as_dict() -> None:
    result = await generate(encode(orange_spotted(), "JPEG"), species="rabbit")
    document = json.loads(json.dumps(result.as_dict()))
    assert GenerationResult.from_dict(document, SETTINGS) == result
    document["model_data"]["materials"]["body"]["base_color"] = "#123456"
    assert result.model_data["materials"]["body"]["base_color"] != "#123456"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("model_data"),
        lambda d: d.update(species="dragon"),
        lambda d: d.update(personality="grumpy"),
        lambda d: d["appearance_features"].update(brightness="0.5"),
        lambda d: d["appearance_features"].update(dominant_color="orange"),
        lambda d: d["appearance_features"].update(pattern="plaid"),
        lambda d: d["model_data"].update(version=2),
        lambda d: d["model_data"]["materials"].pop("body"),
        lambda d: d["model_data"]["size"].update(scale=-1),
        lambda d: d.update(extra="field"),
    ],
)
async def test_from_dict_refuses_malformed_documents(breakage: Any) -> None:
    document = (await generate(encode(striped()))).as_dict()
    breakage(document)
    with pytest.raises(GenerationError, match="malformed"):
        GenerationResult.from_dict(document, SETTINGS)


def test_colour_names() -> None:
    colours = [(255, 140, 0), (139, 69, 19), (245, 222, 179), (128, 128, 128), (20, 20, 20), (250, 250, 250)]
    names = ["orange", "brown", "cream", "grey", "black", "white"]
    assert [color_name(colour) for colour in colours] == names
    assert color_name((218, 165, 32)) == "golden"
