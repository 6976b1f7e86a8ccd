"""The pets plugin end to end on both profiles: upload, generation through the queue,
adoption, reads, ownership, and the photos' signed URLs."""

from __future__ import annotations

import pytest

from pets_support import adopted, generated, orange_photo, striped_photo, upload
from support import bearer, login


async def test_two_real_photos_become_two_different_sensible_pets(client, alice):
    striped = await upload(client, alice, striped_photo())
    orange = await upload(client, alice, orange_photo())
    a = await generated(client, alice, striped["photo_id"])
    b = await generated(client, alice, orange["photo_id"], {"species": "dog"})
    assert (a["status"], b["status"]) == ("done", "done")
    fa, fb = a["pet_preview_data"]["appearance_features"], b["pet_preview_data"]["appearance_features"]
    assert fa["pattern"] == "striped"
    assert fb["pattern"] == "solid"
    assert fb["color_name"] == "orange"
    assert fa["dominant_color"] != fb["dominant_color"]
    assert b["pet_preview_data"]["species"] == "dog"


async def test_adopt_then_read_list_and_history(client, alice):
    pet = await adopted(client, alice, name="  旺财 ")
    assert pet["name"] == "旺财"
    assert (pet["level"], pet["experience"]) == (1, 0)
    assert pet["status"] == {"mood": 80, "hunger": 80, "cleanliness": 80, "affection": 20}
    assert set(pet["model_data"]) >= {"base_model", "materials", "pattern_texture", "size"}

    read = (await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json())["data"]
    assert read["pet_id"] == pet["pet_id"]
    listing = (await (await client.get("/v1/users/pets", headers=alice)).json())["data"]
    assert listing["total"] == 1
    assert listing["items"][0]["pet_id"] == pet["pet_id"]
    assert listing["items"][0]["thumbnail_url"].startswith("http")
    history = (await (await client.get(f"/v1/pets/{pet['pet_id']}/interactions", headers=alice)).json())[
        "data"
    ]
    assert history["total"] == 0


async def test_a_result_is_adopted_once(client, alice):
    uploaded = await upload(client, alice, orange_photo())
    view = await generated(client, alice, uploaded["photo_id"])
    body = {"generation_result_id": view["generation_result_id"], "pet_name": "Once"}
    assert (await client.post("/v1/pets", json=body, headers=alice)).status == 201
    again = await client.post("/v1/pets", json=body, headers=alice)
    assert again.status == 409


async def test_other_users_get_403_and_unknown_ids_404(client, alice):
    pet = await adopted(client, alice)
    bob = bearer((await login(client, "bob"))["token"])
    pet_id = pet["pet_id"]
    assert (await client.get(f"/v1/pets/{pet_id}", headers=bob)).status == 403
    assert (
        await client.post(f"/v1/pets/{pet_id}/interact", json={"interaction_type": "petting"}, headers=bob)
    ).status == 403
    assert (await client.get(f"/v1/pets/{'0' * 32}", headers=alice)).status == 404
    assert (await client.get("/v1/pets/not-an-id", headers=alice)).status == 400
    photo = await upload(client, alice, orange_photo())
    theirs = await client.post("/v1/pets/generate", json={"photo_id": photo["photo_id"]}, headers=bob)
    assert theirs.status == 403


@pytest.mark.parametrize(("name", "status"), [("", 400), ("x" * 13, 400), ("傻逼", 422), ("ｆｕｃｋ", 422)])
async def test_pet_names_are_checked(client, alice, name, status):
    uploaded = await upload(client, alice, orange_photo())
    view = await generated(client, alice, uploaded["photo_id"])
    body = {"generation_result_id": view["generation_result_id"], "pet_name": name}
    response = await client.post("/v1/pets", json=body, headers=alice)
    assert response.status == status
    assert (await response.json())["errors"][0]["field"] == "pet_name"


async def test_photo_urls_are_signed_for_their_owner(client, alice):
    photo = await upload(client, alice, orange_photo())
    url = photo["photo_url"]
    path = url[url.index("/v1/") :]
    fetched = await client.get(path)
    assert fetched.status == 200
    assert fetched.content_type == "image/png"
    forged = path.replace("sig=", "sig=0")
    assert (await client.get(forged)).status == 401
    bob = bearer((await login(client, "bob"))["token"])
    bare = path.split("?")[0]
    assert (await client.get(bare, headers=bob)).status == 403
    assert (await client.get(bare, headers=alice)).status == 200
