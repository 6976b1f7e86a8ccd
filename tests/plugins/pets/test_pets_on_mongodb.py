"""The pets plugin with its documents in MongoDB (the production adapter, over the test
driver stand-in): the whole flow, interactions racing reads, and a failed pet write that
gives the item back, because MongoDB writes are not part of the SQL transaction."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from fakes.mongo import FlakyMongoClient
from mengchong.app import create_app
from mengchong.keys import database_key, documents_key
from mengchong.storage.documents_mongo import MongoDocumentStore
from pets_support import act, adopted, get_data, give, held, user_id_of
from support import bearer, login, settings_from


@pytest.fixture
def pets_overrides() -> dict:
    return {
        "personalities": {"plain": {}},  # likes nothing
        "interactions": {"feeding": {"cooldown_seconds": 0}},
        "items": {"food.crumb": {"type": "food", "tags": [], "effects": {"affection": 1}, "experience": 1}},
    }


@pytest.fixture
async def mongo(tmp_path, aiohttp_client, pets_overrides):
    driver = FlakyMongoClient()
    overrides = {
        "database": {"url": f"sqlite://{tmp_path}/db.sqlite3"},
        "files": {"root": str(tmp_path / "f")},
    }
    settings = settings_from(overrides, plugins={"enabled": ["pets"]}, pets=pets_overrides)
    app = create_app(settings)
    app[documents_key] = MongoDocumentStore(client=driver, database=f"test_{uuid.uuid4().hex[:8]}")
    await app[database_key].migrate()
    client = await aiohttp_client(app)
    client.driver = driver  # type: ignore[attr-defined]
    return client


@pytest.fixture
async def owner(mongo) -> dict[str, str]:
    return bearer((await login(mongo, "alice"))["token"])


async def test_the_whole_flow_on_mongodb(mongo, owner):
    ready = await get_data(mongo, "/readyz", {})
    assert ready["backends"]["documents"]["adapter"] == "mongodb"
    pet = await adopted(mongo, owner)
    await give(mongo, user_id_of(owner), "food.crumb", 1)
    response, body = await act(mongo, owner, pet["pet_id"], "feeding", "food.crumb")
    assert response.status == 200, body
    read = await get_data(mongo, f"/v1/pets/{pet['pet_id']}", owner)
    assert read["experience"] == 6
    assert (await get_data(mongo, "/v1/users/pets", owner))["total"] == 1


async def test_interactions_racing_reads_all_land_once(mongo, owner):
    pet = await adopted(mongo, owner)
    await give(mongo, user_id_of(owner), "food.crumb", 20)
    feedings = [act(mongo, owner, pet["pet_id"], "feeding", "food.crumb") for _ in range(20)]
    reads = [mongo.get(f"/v1/pets/{pet['pet_id']}", headers=owner) for _ in range(40)]
    results = await asyncio.gather(*feedings, *reads)
    assert [response.status for response, _ in results[:20]] == [200] * 20
    assert await held(mongo, user_id_of(owner), "food.crumb") == 0
    read = await get_data(mongo, f"/v1/pets/{pet['pet_id']}", owner)
    assert (read["level"], read["experience"]) == (2, 20 * 6 - 100)  # 120 earned, 100 of it for level 2


async def test_a_failed_pet_write_gives_the_item_back(mongo, owner):
    pet = await adopted(mongo, owner)
    await give(mongo, user_id_of(owner), "food.crumb", 1)
    mongo.driver.outage["pets"] = 1
    response, body = await act(mongo, owner, pet["pet_id"], "feeding", "food.crumb")
    assert response.status == 503, body
    assert await held(mongo, user_id_of(owner), "food.crumb") == 1  # given back
    unchanged = await get_data(mongo, f"/v1/pets/{pet['pet_id']}", owner)
    assert unchanged["experience"] == 0
    history = await get_data(mongo, f"/v1/pets/{pet['pet_id']}/interactions", owner)
    assert history["total"] == 0
    response, body = await act(mongo, owner, pet["pet_id"], "feeding", "food.crumb")
    assert response.status == 200, body  # the outage is over: the same item is used now
    assert await held(mongo, user_id_of(owner), "food.crumb") == 0
