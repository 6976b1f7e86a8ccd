"""Pets under tuned settings (no cooldowns, cheap test items, two pets per user): several
level-ups at once, 50 simultaneous feedings with 10 items, a full pet, the pet limit, and
another user's generation."""

from __future__ import annotations

import asyncio

import pytest

from pets_support import act, adopted, generated, get_data, give, held, orange_photo, upload, user_id_of
from support import bearer, login


@pytest.fixture
def pets_overrides() -> dict:
    return {
        "daily_experience_cap": 10_000,
        "interactions": {
            "feeding": {"cooldown_seconds": 0},
            "petting": {"cooldown_seconds": 0},
            "training": {"cooldown_seconds": 0, "experience": 250},
        },
        "personalities": {"plain": {}},  # likes nothing: the sums below are the plain effects
        "max_pets_per_user": 2,
        "items": {
            "food.meal": {"type": "food", "tags": [], "effects": {"hunger": 30}, "experience": 1},
            "food.crumb": {"type": "food", "tags": [], "effects": {"affection": 1}, "experience": 1},
            "toy.ball": {"type": "toy", "tags": [], "effects": {"mood": 1}, "experience": 1},
        },
    }


async def test_several_levels_at_once_publish_leveled_up(client, alice):
    pet = await adopted(client, alice)
    response, body = await act(client, alice, pet["pet_id"], "training")
    assert response.status == 200, body
    reward = body["data"]["reward"]
    assert reward["levels_passed"] == [2, 3]  # 250 experience: 100 for level 2, 110 for 3, 40 left
    read = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    assert read["level"] == body["data"]["reward"]["level"]


async def test_fifty_simultaneous_feedings_with_ten_items(client, alice):
    pet = await adopted(client, alice)
    await give(client, user_id_of(alice), "food.crumb", 10)
    results = await asyncio.gather(
        *(act(client, alice, pet["pet_id"], "feeding", "food.crumb") for _ in range(50))
    )
    statuses = sorted(response.status for response, _ in results)
    assert statuses.count(200) == 10
    assert set(statuses) == {200, 422}
    assert await held(client, user_id_of(alice), "food.crumb") == 0
    read = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    assert read["experience"] == 10 * (5 + 1)  # the rule's 5 and the crumb's 1, ten times
    assert read["status"]["affection"] == 20 + 10 * (1 + 1)
    assert read["status"]["mood"] == min(100, 80 + 10 * 2)
    history = await (
        await client.get(f"/v1/pets/{pet['pet_id']}/interactions?limit=100", headers=alice)
    ).json()
    assert history["data"]["total"] == 10


async def test_simultaneous_interactions_without_items_all_land_once(client, alice):
    """No item, no lock: the compare-and-set alone must keep every one of them."""
    pet = await adopted(client, alice)
    results = await asyncio.gather(*(act(client, alice, pet["pet_id"], "petting") for _ in range(8)))
    assert [response.status for response, _ in results] == [200] * 8
    gained = sum(body["data"]["reward"]["experience"] for _, body in results)
    read = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    assert read["experience"] == gained > 0
    history = await (
        await client.get(f"/v1/pets/{pet['pet_id']}/interactions?limit=100", headers=alice)
    ).json()
    assert history["data"]["total"] == 8


async def test_a_full_pet_refuses_food_and_keeps_it(client, alice):
    pet = await adopted(client, alice)
    await give(client, user_id_of(alice), "food.meal", 2)
    response, body = await act(client, alice, pet["pet_id"], "feeding", "food.meal")
    assert body["data"]["updated_status"]["hunger"] == 100
    response, body = await act(client, alice, pet["pet_id"], "feeding", "food.meal")
    assert response.status == 400, body
    assert body["errors"][0] == {"field": "interaction_type", "message": "full"}
    assert await held(client, user_id_of(alice), "food.meal") == 1


async def test_the_per_user_pet_limit(client, alice):
    await adopted(client, alice)
    await adopted(client, alice)
    uploaded = await upload(client, alice, orange_photo())
    view = await generated(client, alice, uploaded["photo_id"])
    body = {"generation_result_id": view["generation_result_id"], "pet_name": "Third"}
    response = await client.post("/v1/pets", json=body, headers=alice)
    assert response.status == 422
    assert (await get_data(client, "/v1/users/pets", alice))["total"] == 2


async def test_another_users_generation_task_and_result_are_403(client, alice):
    uploaded = await upload(client, alice, orange_photo())
    view = await generated(client, alice, uploaded["photo_id"])
    bob = bearer((await login(client, "bob"))["token"])
    task = await client.get(f"/v1/pets/generate/{view['generation_task_id']}", headers=bob)
    assert task.status == 403
    body = {"generation_result_id": view["generation_result_id"], "pet_name": "Mine"}
    assert (await client.post("/v1/pets", json=body, headers=bob)).status == 403
    assert (await client.get(f"/v1/pets/generate/{'a' * 32}", headers=alice)).status == 404
