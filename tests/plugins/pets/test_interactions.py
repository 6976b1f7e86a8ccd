"""Interactions on both profiles: effects from config and item data, inventory consumed
atomically, cooldowns as 429, decay on read written back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mengchong.keys import database_key
from mengchong_plugins.pets import store
from pets_support import act, adopted, give, held, user_id_of
from support import bearer, login, settings_from


async def test_petting_changes_status_logs_and_publishes(client, alice):
    pet = await adopted(client, alice)
    response, body = await act(client, alice, pet["pet_id"], "petting")
    assert response.status == 200, body
    assert body["data"]["updated_status"]["mood"] > pet["status"]["mood"] - 1
    assert body["data"]["reward"]["experience"] == 2
    history = (await (await client.get(f"/v1/pets/{pet['pet_id']}/interactions", headers=alice)).json())[
        "data"
    ]
    assert [entry["interaction_type"] for entry in history["items"]] == ["petting"]


async def test_cooldown_is_429_with_the_time_left(client, alice):
    pet = await adopted(client, alice)
    assert (await act(client, alice, pet["pet_id"], "petting"))[0].status == 200
    response, body = await act(client, alice, pet["pet_id"], "petting")
    assert response.status == 429
    assert body["code"] == 42901
    assert 1 <= int(response.headers["Retry-After"]) <= 30


async def test_the_cooldown_429_and_a_lost_race_409_are_documented(profile, make_client):
    """The route answers them itself: they are in /openapi.json even when no rate limit adds a 429."""
    settings = settings_from(profile, plugins={"enabled": ["pets"]}, ratelimit={"enabled": False})
    client = await make_client(settings)
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    assert (await act(client, alice, pet["pet_id"], "petting"))[0].status == 200
    assert (await act(client, alice, pet["pet_id"], "petting"))[0].status == 429
    document = await (await client.get("/openapi.json")).json()
    responses = document["paths"]["/v1/pets/{pet_id}/interact"]["post"]["responses"]
    assert {"409", "429"} <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]


async def test_simultaneous_pettings_under_a_cooldown_are_one_200_and_the_rest_429(client, alice):
    """The losers of the compare-and-set are planned again and refused by the cooldown: a 429
    with Retry-After, not a failed save."""
    pet = await adopted(client, alice)
    results = await asyncio.gather(*(act(client, alice, pet["pet_id"], "petting") for _ in range(6)))
    statuses = sorted(response.status for response, _ in results)
    assert statuses == [200] + [429] * 5, [body for _, body in results]
    assert all("Retry-After" in response.headers for response, _ in results if response.status == 429)
    history = (await (await client.get(f"/v1/pets/{pet['pet_id']}/interactions", headers=alice)).json())[
        "data"
    ]
    assert history["total"] == 1


@pytest.mark.parametrize(
    ("kind", "item", "status", "field"),
    [
        ("feeding", None, 400, "item_id"),  # food required
        ("feeding", "toy.ball", 400, "item_id"),  # not food
        ("dancing", None, 400, "interaction_type"),
        ("petting", "food.unknown", 400, "item_id"),
    ],
)
async def test_bad_interactions_name_the_field(client, alice, kind, item, status, field):
    pet = await adopted(client, alice)
    response, body = await act(client, alice, pet["pet_id"], kind, item)
    assert response.status == status, body
    assert body["errors"][0]["field"] == field


async def test_feeding_consumes_food_and_refuses_a_full_pet(client, alice):
    pet = await adopted(client, alice)
    response, body = await act(client, alice, pet["pet_id"], "feeding", "food.fish")
    assert response.status == 422  # no fish in the inventory
    assert body["code"] == 42201
    await give(client, user_id_of(alice), "food.fish", 2)
    response, body = await act(client, alice, pet["pet_id"], "feeding", "food.fish")
    assert response.status == 200, body
    assert body["data"]["updated_status"]["hunger"] == 100  # 80 + 30, clamped
    response, body = await act(client, alice, pet["pet_id"], "feeding", "food.fish")
    assert response.status in (400, 429)  # full (or still cooling down): never fed twice
    inventory_left = await held(client, user_id_of(alice), "food.fish")
    assert inventory_left == 1


async def test_decay_on_read_is_written_back_and_floored(client, alice):
    pet = await adopted(client, alice)
    app = client.server.app
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    with app[database_key].activate():
        await store.pets(app).update(pet["pet_id"], {"status_at": month_ago})
    read = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    assert read["status"] == {"mood": 10, "hunger": 5, "cleanliness": 5, "affection": 0}
    with app[database_key].activate():
        stored = await store.pets(app).get(pet["pet_id"])
    assert stored["status"]["hunger"] == 5
    assert datetime.fromisoformat(stored["status_at"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_a_recent_state_is_shown_decayed_but_not_rewritten_on_every_read(client, alice):
    pet = await adopted(client, alice)
    app = client.server.app
    minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with app[database_key].activate():
        before = await store.pets(app).update(pet["pet_id"], {"status_at": minute_ago})
    first = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    second = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    assert first["status"] == second["status"]
    with app[database_key].activate():
        stored = await store.pets(app).get(pet["pet_id"])
    assert stored["version"] == before["version"]  # younger than decay_write_back_seconds: no write
