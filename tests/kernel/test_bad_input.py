"""Bad input on both runtime profiles never reaches a 500: JSON nested too deep, text a database
can't store (NUL, lone surrogates, control characters) in any string of any body, names made to
pass for others (bidi overrides, zero-width joiners), a personality that is not a string, a
signed token with claims we never write. Each is a 4xx in the envelope naming the field."""

from __future__ import annotations

import time

import jwt
import pytest

from mengchong.keys import settings_key
from support import bearer, login, settings_from

ADMIN = "boss"


@pytest.fixture
async def client(profile, make_client):
    settings = settings_from(
        profile, plugins={"enabled": ["pets"]}, auth={"admin_openids": [f"mock-{ADMIN}"]}
    )
    return await make_client(settings)


@pytest.fixture
async def alice(client) -> dict[str, str]:
    return bearer((await login(client, "alice"))["token"])


@pytest.fixture
async def admin(client) -> dict[str, str]:
    return bearer((await login(client, ADMIN))["token"])


async def answer(response) -> tuple[int, dict]:
    return response.status, await response.json()


def fields_of(body: dict) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 10_000])
async def test_json_nested_too_deep_is_a_400_on_every_json_route(client, alice, depth):
    body = nested(depth).encode()
    json_type = {"Content-Type": "application/json"}
    routes = [
        ("POST", "/v1/auth/wechat_login", {}),
        ("PUT", "/v1/users/profile", alice),
        ("POST", "/v1/pets/generate", alice),
    ]
    for method, path, auth in routes:
        status, payload = await answer(
            await client.request(method, path, data=body, headers={**json_type, **auth})
        )
        assert (status, payload["code"]) == (400, 40002), (path, payload)
    inside = '{"code": "deep01", "x": ' + nested(depth - 1) + "}"
    status, payload = await answer(await client.post("/v1/auth/wechat_login", data=inside, headers=json_type))
    assert (status, payload["code"]) == (400, 40002), payload


async def test_json_nested_to_the_limit_reaches_validation(client):
    body = '{"code": ' + nested(31) + "}"  # 32 levels with the object around it
    status, payload = await answer(
        await client.post("/v1/auth/wechat_login", data=body, headers={"Content-Type": "application/json"})
    )
    assert (status, payload["code"], fields_of(payload)) == (400, 40001, ["code"])


UNSTORABLE = {
    "lone surrogate": "a\ud800b",
    "NUL": "a\x00b",
    "escape": "a\x1bb",
    "C1 control": "a\x85b",
}


@pytest.mark.parametrize("text", list(UNSTORABLE.values()), ids=list(UNSTORABLE))
async def test_text_a_database_cant_store_is_refused_naming_the_field(client, alice, admin, text):
    alice_id = int(jwt.decode(alice["Authorization"][7:], options={"verify_signature": False})["sub"])
    cases = [
        ("PUT", "/v1/users/profile", alice, {"nickname": text}, "nickname"),
        ("PUT", "/v1/users/profile", alice, {"avatar_url": "https://x/" + text}, "avatar_url"),
        ("POST", "/v1/users/avatar", alice, {"avatar_url": "https://x/" + text}, "avatar_url"),
        ("POST", "/v1/pets", alice, {"generation_result_id": "0" * 32, "pet_name": text}, "pet_name"),
        (
            "POST",
            "/v1/pets/generate",
            alice,
            {"photo_id": "0" * 32, "user_selected_attributes": {"species": text}},
            "user_selected_attributes.species",
        ),
        (
            "POST",
            f"/v1/admin/users/{alice_id}/points",
            admin,
            {"delta": 5, "reason": text},
            "reason",
        ),
        ("POST", "/v1/auth/wechat_login", {}, {"code": text}, "code"),
    ]
    for method, path, auth, body, field in cases:
        status, payload = await answer(await client.request(method, path, json=body, headers=auth))
        assert (status, payload["code"]) == (400, 40001), (path, payload)
        assert fields_of(payload) == [field], (path, payload)
    key = {"user_selected_attributes": {text: "x"}, "photo_id": "0" * 32}
    status, payload = await answer(await client.post("/v1/pets/generate", json=key, headers=alice))
    assert (status, fields_of(payload)) == (400, ["user_selected_attributes"]), payload
    profile = (await (await client.get("/v1/users/profile", headers=alice)).json())["data"]
    assert profile["nickname"] == ""
    assert profile["points_balance"] == 0


SPOOFING = {
    "right-to-left override": "abc\u202edcb",
    "zero-width joiner": "a\u200db",
    "zero-width space": "a\u200bb",
    "line break": "a\nb",
    "byte-order mark": "\ufeffab",
}


@pytest.mark.parametrize("name", list(SPOOFING.values()), ids=list(SPOOFING))
async def test_display_names_refuse_invisible_and_direction_changing_characters(client, alice, name):
    status, payload = await answer(
        await client.put("/v1/users/profile", json={"nickname": name}, headers=alice)
    )
    assert (status, fields_of(payload)) == (400, ["nickname"]), payload


async def test_display_names_keep_what_people_write(client, alice):
    for name in ("小白的主人", "Zoë 🐱", "ありがとう", "مرحبا"):
        status, payload = await answer(
            await client.put("/v1/users/profile", json={"nickname": name}, headers=alice)
        )
        assert (status, payload["data"]["nickname"]) == (200, name)


async def test_a_signed_token_with_claims_we_never_write_is_a_401(client):
    auth = client.server.app[settings_key].auth
    now = int(time.time())
    base = {"iss": auth.jwt_issuer, "aud": auth.jwt_audience, "iat": now, "exp": now + 60, "ver": 0}
    for claims in ({"sub": str(2**63)}, {"sub": str(2**64 + 1)}, {"sub": "1", "ver": 2**40}):
        token = jwt.encode(
            {**base, **claims}, auth.jwt_secret, algorithm="HS256", headers={"kid": auth.jwt_kid}
        )
        status, payload = await answer(await client.get("/v1/users/profile", headers=bearer(token)))
        assert (status, payload["code"]) == (401, 40101), claims
