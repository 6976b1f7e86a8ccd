"""Two users and every route that takes the id of something one of them owns, on both profiles:
Alice makes one of each thing (a photo, a generation task, a pet with an interaction, an order,
a friendship, notification subscriptions), then Bob, a user too, tries each of her ids on every
route that takes one. Every answer is 403 or 404 in the error envelope, none of Alice's data
(names, balances, ids other than the one Bob sent) shows in any of Bob's answers, nothing of
hers changed, and Bob's own lists show nothing of hers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pets_support import adopted, generated, orange_photo, upload
from support import bearer, login, settings_from

Auth = dict[str, str]
TEMPLATE = "t-checkin"


@pytest.fixture
async def client(profile, make_client):
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall", "leaderboard", "notifications"]},
        auth={"admin_openids": ["mock-boss"]},
        notifications={"templates": {"checkin_reward": {"template_id": TEMPLATE}}},
        ratelimit={"enabled": False},
    )
    return await make_client(settings)


async def user(client: Any, code: str) -> tuple[int, Auth]:
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def data_of(client: Any, method: str, path: str, auth: Auth, **options: Any) -> Any:
    response = await client.request(method, path, headers=auth, **options)
    body = await response.json()
    assert response.status < 300, (method, path, response.status, body)
    return body["data"]


async def alices_things(client: Any, alice: Auth, admin: Auth, alice_id: int, carol: Auth) -> dict[str, Any]:
    """One of each thing Alice can own; what Bob will try, and what must stay as it is."""
    pet = await adopted(client, alice, name="AliceCat")
    await data_of(
        client, "POST", f"/v1/pets/{pet['pet_id']}/interact", alice, json={"interaction_type": "petting"}
    )
    photo = await upload(client, alice, orange_photo())
    task = await generated(client, alice, photo["photo_id"])
    product = {"name": "Fish", "type": "virtual_pet_food", "category": "food", "points_cost": 10}
    product = await data_of(
        client, "POST", "/v1/admin/products", admin, json=product | {"item_id": "food.fish"}
    )
    grant = {"delta": 777, "reason": "ownership test"}
    await data_of(client, "POST", f"/v1/admin/users/{alice_id}/points", admin, json=grant)
    order = await data_of(
        client, "POST", "/v1/mall/orders", alice, json={"product_id": product["product_id"], "quantity": 1}
    )
    code = (await data_of(client, "POST", "/v1/friends/invite", alice))["code"]
    await data_of(client, "POST", "/v1/friends/accept", carol, json={"code": code})
    await data_of(client, "POST", "/v1/notifications/subscriptions", alice, json={"template_ids": [TEMPLATE]})
    return {
        "pet_id": pet["pet_id"],
        "photo_id": photo["photo_id"],
        "photo_url": photo["photo_url"],
        "task_id": task["generation_task_id"],
        "result_id": task["generation_result_id"],
        "order_id": order["order_id"],
        "product_id": product["product_id"],
    }


async def snapshot(client: Any, alice: Auth, things: dict[str, Any]) -> dict[str, Any]:
    """What Alice sees of her things."""
    return {
        "pet": await data_of(client, "GET", f"/v1/pets/{things['pet_id']}", alice),
        "interactions": await data_of(client, "GET", f"/v1/pets/{things['pet_id']}/interactions", alice),
        "order": await data_of(client, "GET", f"/v1/mall/orders/{things['order_id']}", alice),
        "friends": await data_of(client, "GET", "/v1/friends", alice),
        "subscriptions": await data_of(client, "GET", "/v1/notifications/subscriptions", alice),
        "profile": await data_of(client, "GET", "/v1/users/profile", alice),
    }


async def test_no_route_lets_one_user_read_or_change_what_another_owns(client):
    admin = (await user(client, "boss"))[1]
    alice_id, alice = await user(client, "alice")
    carol_id, carol = await user(client, "carol")
    bob_id, bob = await user(client, "bob")
    things = await alices_things(client, alice, admin, alice_id, carol)
    before = await snapshot(client, alice, things)
    pet_id, order_id = things["pet_id"], things["order_id"]

    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/v1/pets/{pet_id}", None),
        ("POST", f"/v1/pets/{pet_id}/interact", {"interaction_type": "petting"}),
        ("POST", f"/v1/pets/{pet_id}/interact", {"interaction_type": "feeding", "item_id": "food.fish"}),
        ("GET", f"/v1/pets/{pet_id}/interactions", None),
        ("GET", f"/v1/pets/photos/{things['photo_id']}", None),
        ("GET", f"/v1/pets/generate/{things['task_id']}", None),
        ("POST", "/v1/pets/generate", {"photo_id": things["photo_id"]}),
        ("POST", "/v1/pets", {"generation_result_id": things["result_id"], "pet_name": "Stolen"}),
        ("GET", f"/v1/mall/orders/{order_id}", None),
        ("DELETE", f"/v1/friends/{carol_id}", None),
        ("DELETE", f"/v1/friends/{alice_id}", None),
        ("POST", f"/v1/admin/users/{alice_id}/points", {"delta": -777, "reason": "theft"}),
        ("POST", f"/v1/admin/users/{alice_id}/ban", None),
        ("PUT", f"/v1/admin/products/{things['product_id']}", {"points_cost": 1}),
        ("GET", "/v1/admin/orders", None),
        ("GET", "/v1/admin/notifications", None),
    ]
    # Her things' names and ids (long hex: they can't appear by chance), and her balance field.
    secrets = ["AliceCat", pet_id, order_id, things["photo_id"], things["result_id"], "points_balance"]
    answers: dict[str, int] = {}
    for method, path, body in attempts:
        response = await client.request(method, path, headers=bob, json=body)
        text = await response.text()
        answers[f"{method} {path}"] = response.status
        assert response.status in (403, 404), (method, path, response.status, text)
        envelope = json.loads(text)
        assert "data" not in envelope, (method, path, envelope)
        sent = json.dumps(body or {}) + path
        leaked = [secret for secret in secrets if secret in text and secret not in sent]
        assert leaked == [], (method, path, text)

    # A signed photo URL is a capability for its own photo only: its signature on another id fails.
    signed = things["photo_url"][things["photo_url"].index("/v1/") :]
    bobs_photo = (await upload(client, bob, orange_photo()))["photo_id"]
    assert (await client.get(signed.replace(things["photo_id"], bobs_photo))).status == 401

    # Bob's own lists hold nothing of Alice's.
    bobs = {
        "pets": await data_of(client, "GET", "/v1/users/pets", bob),
        "orders": await data_of(client, "GET", "/v1/mall/orders", bob),
        "friends": await data_of(client, "GET", "/v1/friends", bob),
        "subscriptions": await data_of(client, "GET", "/v1/notifications/subscriptions", bob),
        "ledger": await data_of(client, "GET", "/v1/users/points/ledger", bob),
        "status": await data_of(client, "GET", "/v1/checkin/status", bob),
    }
    text = json.dumps(bobs)
    for secret in (pet_id, order_id, things["photo_id"], "AliceCat"):
        assert secret not in text, (secret, bobs)
    assert bobs["friends"]["items"] == []
    assert bobs["subscriptions"] != before["subscriptions"]  # hers has a message of the template

    after = await snapshot(client, alice, things)
    assert after == before
    assert bob_id not in (alice_id, carol_id)
