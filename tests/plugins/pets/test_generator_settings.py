"""The species and personalities a generated pet can have are the configured ones (``pets.species``,
``pets.personalities``): the built-in generator makes the first species unless the user chose one,
gives the first personality whose ``look`` the photo has, and a result naming anything else is
malformed. The looks are checked at each threshold, and the whole flow with a configuration of
its own."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from mengchong_plugins.pets.generator import (
    BuiltinGenerator,
    GenerationError,
    GenerationInput,
    GenerationResult,
    has_look,
    personality_for_look,
)
from mengchong_plugins.pets.generator_settings import Look
from mengchong_plugins.pets.settings import DEFAULT_PERSONALITIES, Personality, PetsSettings
from pets_support import adopted, generated, upload

FOX_AND_OWL = {"fox": {"height_cm": 30.0}, "owl": {"height_cm": 20.0}}
SOLID = {"brightness": 0.5, "contrast": 0.1, "saturation": 0.2, "pattern": "solid", "color_name": "grey"}


def grey_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (128, 128, 128)).save(out, "PNG")
    return out.getvalue()


def features(**changes: Any) -> dict[str, Any]:
    return {**SOLID, **changes}


@pytest.mark.parametrize(
    ("look", "meets", "misses"),
    [
        (Look(brightness_below=0.3), features(brightness=0.2999), features(brightness=0.3)),
        (Look(brightness_at_least=0.45), features(brightness=0.45), features(brightness=0.4499)),
        (Look(contrast_at_least=0.4), features(contrast=0.4), features(contrast=0.3999)),
        (Look(saturation_at_least=0.5), features(saturation=0.5), features(saturation=0.4999)),
        (Look(patterns=("striped", "spotted")), features(pattern="spotted"), features(pattern="two-tone")),
        (Look(color_names=("orange", "red")), features(color_name="red"), features(color_name="grey")),
    ],
    ids=["brightness_below", "brightness_at_least", "contrast", "saturation", "patterns", "color_names"],
)
def test_a_look_is_met_from_its_threshold_on(look: Look, meets: dict, misses: dict) -> None:
    assert has_look(meets, look)
    assert not has_look(misses, look)
    assert has_look(misses, Look())  # no conditions: any photo


def test_every_condition_of_a_look_must_hold() -> None:
    look = Look(brightness_at_least=0.45, contrast_at_least=0.4)
    assert has_look(features(brightness=0.5, contrast=0.5), look)
    assert not has_look(features(brightness=0.5, contrast=0.3), look)
    assert not has_look(features(brightness=0.4, contrast=0.5), look)
    without_saturation = {key: value for key, value in SOLID.items() if key != "saturation"}
    assert not has_look(without_saturation, Look(saturation_at_least=0.01))


def test_the_first_personality_whose_look_the_photo_has_is_given_else_the_first() -> None:
    bright = Personality(look=Look(brightness_at_least=0.4))
    personalities = {
        "chosen_only": Personality(),  # no look: never from a photo, but the fallback
        "dark": Personality(look=Look(brightness_below=0.3)),
        "bright": bright,
        "also_bright": bright,
    }
    assert personality_for_look(features(brightness=0.1), personalities) == "dark"
    assert personality_for_look(features(brightness=0.5), personalities) == "bright"
    assert personality_for_look(features(brightness=0.35), personalities) == "chosen_only"
    reordered = {"also_bright": bright, **personalities}
    assert personality_for_look(features(brightness=0.5), reordered) == "also_bright"


@pytest.mark.parametrize(
    ("changes", "personality"),
    [
        ({"brightness": 0.2}, "shy"),
        ({"brightness": 0.45, "contrast": 0.4}, "playful"),
        ({"pattern": "striped"}, "curious"),
        ({"saturation": 0.5, "color_name": "orange"}, "greedy"),
        ({"saturation": 0.5}, "calm"),
    ],
)
def test_the_default_looks_give_the_default_personalities(changes: dict, personality: str) -> None:
    assert personality_for_look(features(**changes), DEFAULT_PERSONALITIES) == personality


async def test_the_builtin_generator_makes_configured_species_and_personalities() -> None:
    settings = PetsSettings(species=FOX_AND_OWL, personalities={"plain": {}, "sleepy": {}})
    generator = BuiltinGenerator(settings)
    made = await generator.generate(GenerationInput(grey_png()))
    assert (made.species, made.personality) == ("fox", "plain")
    assert made.model_data["base_model"] == "fox_base_v1"
    assert made.model_data["size"]["height_cm"] == 30.0
    chosen = await generator.generate(
        GenerationInput(grey_png(), {"species": "owl", "personality": "sleepy"})
    )
    assert (chosen.species, chosen.personality, chosen.model_data["size"]["height_cm"]) == (
        "owl",
        "sleepy",
        20,
    )
    unknown = await generator.generate(GenerationInput(grey_png(), {"personality": "shy"}))
    assert unknown.personality == "plain"  # not configured: the photo decides
    with pytest.raises(GenerationError, match="species must be one of fox, owl, not 'cat'"):
        await generator.generate(GenerationInput(grey_png(), {"species": "cat"}))


async def test_a_result_is_checked_against_the_configured_names() -> None:
    settings = PetsSettings(species=FOX_AND_OWL, personalities={"plain": {}})
    document = (await BuiltinGenerator(settings).generate(GenerationInput(grey_png()))).as_dict()
    assert GenerationResult.from_dict(document, settings).species == "fox"
    with pytest.raises(GenerationError, match="malformed generation result: species: Input should be "):
        GenerationResult.from_dict(document, PetsSettings())
    expected = "malformed generation result: personality: Input should be 'plain'$"
    with pytest.raises(GenerationError, match=expected):
        GenerationResult.from_dict({**document, "personality": "shy"}, settings)
    defaults = "species: Input should be 'cat', 'dog', 'rabbit', 'hamster' or 'bird'$"
    with pytest.raises(GenerationError, match=defaults):
        GenerationResult.from_dict({**document, "species": 3}, PetsSettings(personalities={"plain": {}}))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"species": {}}, "species"),
        ({"species": {"Fox": {"height_cm": 30}}}, "species.Fox"),
        ({"species": {"fox": {"height_cm": 0}}}, "species.fox.height_cm"),
        ({"personalities": {}}, "personalities"),
        ({"personalities": {"shy": {"look": {"patterns": ["plaid"]}}}}, "personalities.shy.look.patterns"),
        ({"personalities": {"shy": {"look": {"brightness_below": 2}}}}, "personalities.shy.look"),
    ],
)
def test_bad_species_and_personalities_are_refused_naming_the_key(section: dict, key: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PetsSettings(**section)
    location = ".".join(str(part) for part in raised.value.errors()[0]["loc"])
    assert location.startswith(key)


@pytest.fixture
def pets_overrides() -> dict:
    return {"species": FOX_AND_OWL, "personalities": {"plain": {}, "sleepy": {}}}


async def test_the_flow_uses_the_configured_species_and_personalities(client, alice) -> None:
    pet = await adopted(client, alice)
    assert (pet["species"], pet["personality"]) == ("fox", "plain")
    chosen = await adopted(client, alice, attributes={"species": "owl", "personality": "sleepy"})
    assert (chosen["species"], chosen["personality"]) == ("owl", "sleepy")
    photo = await upload(client, alice, grey_png())
    refused = await generated(client, alice, photo["photo_id"], {"species": "cat"})
    assert refused["status"] == "failed"
    assert refused["error"] == "species must be one of fox, owl, not 'cat'"
