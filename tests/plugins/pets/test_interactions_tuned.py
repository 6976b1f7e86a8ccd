"""Interactions under tuned settings (no cooldowns, a cheap test item): several level-ups
at once, and 50 simultaneous feedings with 10 items."""

from __future__ import annotations

import asyncio

import pytest
from conftest import act, adopted, give, held, user_id_of


@pytest.fixture
def pets_overrides() -> dict:
    return {
        "daily_experience_cap": 10_000,
        "interactions": {
            "feeding": {"cooldown_seconds": 0},
            "petting": {"cooldown_seconds": 0},
            "training": {"cooldown_seconds": 0, "experience": 250},
        },
        "personalities": {},  # no likes: the sums below are the plain effects
        "items": {
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
