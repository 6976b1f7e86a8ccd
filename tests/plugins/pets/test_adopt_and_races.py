"""Adoption refuses a personality that is not one of ours (a list or an object included) naming
the field, and interactions racing on one pet with no cooldown never answer 5xx: a write that
keeps losing its compare-and-set is a 409 that used nothing, and every 200 is in the history."""

from __future__ import annotations

import asyncio

import pytest

from pets_support import act, adopted, generated, get_data, orange_photo, upload

PERSONALITY = "initial_attributes.personality"


async def a_result(client, auth) -> str:
    uploaded = await upload(client, auth, orange_photo())
    view = await generated(client, auth, uploaded["photo_id"])
    assert view["status"] == "done", view
    return view["generation_result_id"]


@pytest.mark.parametrize(
    "personality", [["shy"], {"a": 1}, 3, True, "", "no-such-personality", "x" * 33], ids=repr
)
async def test_a_personality_that_is_not_ours_is_a_400_naming_it(client, alice, personality):
    body = {
        "generation_result_id": await a_result(client, alice),
        "pet_name": "小白",
        "initial_attributes": {"personality": personality},
    }
    response = await client.post("/v1/pets", json=body, headers=alice)
    payload = await response.json()
    assert (response.status, [e["field"] for e in payload["errors"]]) == (400, [PERSONALITY]), payload
    del body["initial_attributes"]
    assert (await client.post("/v1/pets", json=body, headers=alice)).status == 201  # nothing was used


async def test_a_chosen_personality_is_kept_and_other_attributes_are_let_through(client, alice):
    body = {
        "generation_result_id": await a_result(client, alice),
        "pet_name": "小白",
        "initial_attributes": {"personality": "shy", "species": ["whatever", {"the": "client"}]},
    }
    response = await client.post("/v1/pets", json=body, headers=alice)
    payload = await response.json()
    assert response.status == 201, payload
    assert payload["data"]["personality"] == "shy"


@pytest.fixture
def pets_overrides() -> dict:
    return {"interactions": {"petting": {"cooldown_seconds": 0}}}


async def test_racing_interactions_without_a_cooldown_never_answer_5xx(client, alice):
    pet = await adopted(client, alice)
    results = await asyncio.gather(*(act(client, alice, pet["pet_id"], "petting") for _ in range(50)))
    statuses = [response.status for response, _ in results]
    assert set(statuses) <= {200, 409}, statuses
    for response, body in results:
        if response.status == 409:
            assert (body["code"], response.headers["Retry-After"]) == (40901, "1")
    history = await get_data(client, f"/v1/pets/{pet['pet_id']}/interactions?limit=100", alice)
    assert history["total"] == statuses.count(200)
    assert sum(entry["experience_gained"] for entry in history["items"]) == 2 * statuses.count(200)
    read = await get_data(client, f"/v1/pets/{pet['pet_id']}", alice)
    earned = read["experience"] + (100 if read["level"] == 2 else 0)  # level 2 takes 100 (defaults)
    assert (read["level"] <= 2, earned) == (True, 2 * statuses.count(200))
