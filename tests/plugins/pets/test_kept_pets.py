"""A pet read by its id is served from the process's kept copy while nothing wrote it, on both
profiles: the next read after an interaction, a decay write-back or a write in another process
(same database and Redis) sees the write at once; ownership and revocation are still checked on
every read; on Redis the pet's stored version comes with the auth guard's round trip."""

from __future__ import annotations

from typing import Any

import pytest

from mengchong.keys import documents_key
from mengchong_plugins.pets import store
from pets_support import act, adopted
from support import bearer, login, settings_from

NO_COOLDOWN = {"interactions": {"petting": {"cooldown_seconds": 0}}}


def pets_settings(profile: str, **pets: Any):
    return settings_from(profile, plugins={"enabled": ["pets"]}, pets={**NO_COOLDOWN, **pets})


async def read_pet(client, auth: dict[str, str], pet_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/pets/{pet_id}", headers=auth)
    payload = await response.json()
    assert response.status == 200, payload
    return payload["data"]


async def behind_the_products_back(client, pet_id: str, name: str) -> None:
    """A change no writer of ours made (the stored version is not raised): what shows a copy."""
    await client.server.app[documents_key].collection(store.PETS).update(pet_id, {"name": name})


async def test_a_second_read_is_the_copy_and_an_interaction_shows_at_once(profile, make_client):
    client = await make_client(pets_settings(profile))
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    await read_pet(client, alice, pet["pet_id"])
    await behind_the_products_back(client, pet["pet_id"], "unseen")
    assert (await read_pet(client, alice, pet["pet_id"]))["name"] == pet["name"]

    response, body = await act(client, alice, pet["pet_id"], "petting")
    assert response.status == 200, body
    after = await read_pet(client, alice, pet["pet_id"])
    assert (after["name"], after["experience"]) == ("unseen", pet["experience"] + 2)


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_another_process_sees_an_interaction_at_once(profile, make_client):
    settings = pets_settings(profile)
    first, second = await make_client(settings), await make_client(settings)
    alice = bearer((await login(first, "alice"))["token"])
    pet = await adopted(first, alice)
    for client in (first, second):  # each keeps a copy now
        assert (await read_pet(client, alice, pet["pet_id"]))["experience"] == pet["experience"]
    for writer, reader in ((second, first), (first, second), (second, first)):
        response, body = await act(writer, alice, pet["pet_id"], "petting")
        assert response.status == 200, body
        assert (await read_pet(reader, alice, pet["pet_id"]))["level"] == body["data"]["level"]
        written = await writer.server.app[documents_key].collection(store.PETS).get(pet["pet_id"])
        assert (await read_pet(reader, alice, pet["pet_id"]))["experience"] == written["experience"]


async def test_a_copy_is_served_only_to_its_owner_and_only_while_the_token_holds(profile, make_client):
    client = await make_client(pets_settings(profile))
    alice = bearer((await login(client, "alice"))["token"])
    bob = bearer((await login(client, "bob"))["token"])
    pet = await adopted(client, alice)
    await read_pet(client, alice, pet["pet_id"])
    refused = await client.get(f"/v1/pets/{pet['pet_id']}", headers=bob)
    assert refused.status == 403
    assert (await client.post("/v1/auth/logout", headers=alice)).status == 200
    assert (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).status == 401


async def test_a_decay_write_back_is_seen_by_the_next_read(profile, make_client):
    client = await make_client(pets_settings(profile, decay_write_back_seconds=0))
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    await read_pet(client, alice, pet["pet_id"])  # writes the decayed state back
    await behind_the_products_back(client, pet["pet_id"], "seen")
    await read_pet(client, alice, pet["pet_id"])  # the copy, then its own write-back
    assert (await read_pet(client, alice, pet["pet_id"]))["name"] == "seen"


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_on_redis_the_guard_reads_the_pets_version_in_its_round_trip(profile, make_client):
    client = await make_client(pets_settings(profile))
    alice = bearer((await login(client, "alice"))["token"])
    pet = await adopted(client, alice)
    seen: list[str | None] = []
    kept = client.server.app[store.kept_pets_key]
    original = kept.get

    async def recording(doc_id: str, stored_version: str | None = None):
        seen.append(stored_version)
        return await original(doc_id, stored_version)

    kept.get = recording  # type: ignore[method-assign]
    await read_pet(client, alice, pet["pet_id"])
    assert seen == ["1"]  # adopting stored version 1; the guard's script read it
