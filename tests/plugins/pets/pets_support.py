"""Helpers of the pets tests: photos drawn with Pillow, and the steps of the pets flow over HTTP
(upload, generate, adopt, interact) with the inventory reads and grants around them. Fixtures are
in conftest.py."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import jwt
from aiohttp.test_utils import TestClient
from PIL import Image

from mengchong.economy.inventory import grant_items, list_items
from mengchong.keys import database_key, item_catalog_key

Auth = dict[str, str]
"""The Authorization header of a logged-in user (``support.bearer``)."""


def striped_photo(fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", (400, 300), "white")
    for x in range(0, 400, 40):
        image.paste((0, 0, 0), (x, 0, x + 20, 300))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def orange_photo(fmt: str = "PNG") -> bytes:
    image = Image.new("RGB", (300, 400), (255, 140, 0))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


async def upload(client: TestClient, auth: Auth, data: bytes, filename: str = "photo.jpg") -> dict:
    """Upload a photo as the mini program does; returns the answer's data (photo_id, photo_url)."""
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    response = await client.post("/v1/pets/upload_photo", data=form, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return body["data"]


async def get_data(client: TestClient, path: str, auth: Auth) -> dict:
    """GET a path and return the envelope's data."""
    response = await client.get(path, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return body["data"]


async def generated(client: TestClient, auth: Auth, photo_id: str, attributes: dict | None = None) -> dict:
    """Start a generation and wait until it is done; returns the task view."""
    body = {"photo_id": photo_id, "user_selected_attributes": attributes or {}}
    start = await client.post("/v1/pets/generate", json=body, headers=auth)
    task_id = (await start.json())["data"]["generation_task_id"]
    for _ in range(300):
        view = (await (await client.get(f"/v1/pets/generate/{task_id}", headers=auth)).json())["data"]
        if view["status"] != "pending":
            return view
        await asyncio.sleep(0.05)
    raise AssertionError("generation never finished")


async def adopted(
    client: TestClient, auth: Auth, photo: bytes = b"", name: str = "小白", attributes: dict | None = None
) -> dict:
    """Upload, generate and adopt a pet (an orange photo unless given); returns the adopted pet."""
    uploaded = await upload(client, auth, photo or orange_photo())
    view = await generated(client, auth, uploaded["photo_id"], attributes)
    assert view["status"] == "done", view
    body = {"generation_result_id": view["generation_result_id"], "pet_name": name}
    response = await client.post("/v1/pets", json=body, headers=auth)
    payload = await response.json()
    assert response.status == 201, payload
    return payload["data"]


async def give(client: TestClient, user_id: int, item_id: str, quantity: int) -> None:
    """Grant the user ``quantity`` of the item, as a mall order or a check-in would."""
    database = client.server.app[database_key]
    with database.activate():
        async with database.transaction() as connection:
            await grant_items(connection, client.server.app[item_catalog_key], user_id, item_id, quantity)


def user_id_of(auth: Auth) -> int:
    """The user id in the token (its ``sub``)."""
    return int(jwt.decode(auth["Authorization"].split()[1], options={"verify_signature": False})["sub"])


async def act(
    client: TestClient, auth: Auth, pet_id: str, kind: str, item_id: str | None = None
) -> tuple[aiohttp.ClientResponse, dict]:
    """One interaction over HTTP; returns the response and its body."""
    body = {"interaction_type": kind, **({"item_id": item_id} if item_id else {})}
    response = await client.post(f"/v1/pets/{pet_id}/interact", json=body, headers=auth)
    return response, await response.json()


async def held(client: TestClient, user_id: int, item_id: str) -> int:
    """How many of the item the user holds."""
    database = client.server.app[database_key]
    with database.activate():
        items = await list_items(database.connection, user_id)
    return next((item["quantity"] for item in items if item["item_id"] == item_id), 0)
