"""The auth guard over HTTP: forged, expired, ``alg: none`` and unknown-kid tokens are 401;
logout and bans revoke every token at once; admins only for admin routes; keys rotate."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from mengchong.config import AuthSettings
from support import bearer, login, settings_from

SECRET = AuthSettings().jwt_secret


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
async def client(profile, make_client):
    previous = {"k0": "an-older-secret-that-is-long-enough-to-keep"}
    auth = {"admin_openids": ["mock-boss"], "jwt_previous_keys": previous}
    return await make_client(settings_from(profile, auth=auth))


def claims(user_id: str, **overrides) -> dict:
    now = int(time.time())
    base = {
        "iss": "mengchong",
        "aud": "mengchong-miniprogram",
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
        "ver": 0,
    }
    return {**base, **overrides}


def forged(user_id: str, valid_token: str) -> dict[str, str]:
    head, body, signature = valid_token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    sign = lambda payload, key=SECRET, kid="k1", alg="HS256": jwt.encode(  # noqa: E731
        payload, key, algorithm=alg, headers={"kid": kid}
    )
    return {
        "tampered signature": f"{head}.{body}.{flipped}",
        "tampered payload": f"{head}.{b64(claims('999'))}.{signature}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims(user_id))}.",
        "HS384": sign(claims(user_id), alg="HS384"),
        "unknown kid": sign(claims(user_id), kid="k9"),
        "wrong secret": sign(claims(user_id), key="x" * 48),
        "expired": sign(claims(user_id, iat=int(time.time()) - 700, exp=int(time.time()) - 100)),
        "wrong audience": sign(claims(user_id, aud="someone-else")),
        "unknown user": sign(claims("424242")),
        "old token version": sign(claims(user_id, ver=-1)),
        "not a jwt": "hello",
    }


async def test_a_valid_token_passes_and_every_bad_one_is_401(client):
    alice = await login(client, "alice")
    user_id, token = alice["user_info"]["user_id"], alice["token"]
    assert (await client.get("/v1/users/profile", headers=bearer(token))).status == 200
    for name, bad in forged(user_id, token).items():
        response = await client.get("/v1/users/profile", headers=bearer(bad))
        body = await response.json()
        assert response.status == 401, name
        assert body["code"] == 40101, name
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
    for header in (
        {},
        {"Authorization": token},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ):
        assert (await client.get("/v1/users/profile", headers=header)).status == 401


async def test_a_token_signed_with_a_previous_key_is_accepted(client):
    user_id = (await login(client, "rotated"))["user_info"]["user_id"]
    old = jwt.encode(
        claims(user_id),
        "an-older-secret-that-is-long-enough-to-keep",
        algorithm="HS256",
        headers={"kid": "k0"},
    )
    assert (await client.get("/v1/users/profile", headers=bearer(old))).status == 200


async def test_logout_revokes_every_token_at_once(client):
    first = (await login(client, "leaver"))["token"]
    second = (await login(client, "leaver"))["token"]
    assert (await client.post("/v1/auth/logout", headers=bearer(second))).status == 200
    for token in (first, second):
        assert (await client.get("/v1/users/profile", headers=bearer(token))).status == 401
    fresh = (await login(client, "leaver"))["token"]
    assert (await client.get("/v1/users/profile", headers=bearer(fresh))).status == 200


async def test_a_ban_is_immediate_and_admin_only(client):
    boss = (await login(client, "boss"))["token"]
    victim = await login(client, "victim")
    target = victim["user_info"]["user_id"]

    refused = await client.post(f"/v1/admin/users/{target}/ban", headers=bearer(victim["token"]))
    assert refused.status == 403
    assert (await refused.json())["code"] == 40301

    assert (await client.post(f"/v1/admin/users/{target}/ban", headers=bearer(boss))).status == 200
    assert (await client.get("/v1/users/profile", headers=bearer(victim["token"]))).status == 401
    relogin = await client.post("/v1/auth/wechat_login", json={"code": "victim"})
    assert relogin.status == 403

    assert (await client.delete(f"/v1/admin/users/{target}/ban", headers=bearer(boss))).status == 200
    assert (await client.post("/v1/auth/wechat_login", json={"code": "victim"})).status == 200


async def test_a_ban_and_its_lifting_are_recorded_as_events_with_them(client):
    from mengchong.keys import database_key
    from mengchong.storage.models import OutboxEvent

    boss = (await login(client, "boss"))["token"]
    target = (await login(client, "victim"))["user_info"]["user_id"]
    assert (await client.post(f"/v1/admin/users/{target}/ban", headers=bearer(boss))).status == 200
    assert (await client.delete(f"/v1/admin/users/{target}/ban", headers=bearer(boss))).status == 200
    assert (await client.post("/v1/auth/logout", headers=bearer(boss))).status == 200  # no event
    with client.server.app[database_key].activate():
        rows = await OutboxEvent.filter(name__startswith="user.").exclude(name="user.created").order_by("id")
    assert [(row.name, row.payload["payload"]) for row in rows] == [
        ("user.banned", {"user_id": int(target)}),
        ("user.unbanned", {"user_id": int(target)}),
    ]


async def test_an_admin_cannot_ban_themselves(client):
    boss = await login(client, "boss")
    own_id = boss["user_info"]["user_id"]
    response = await client.post(f"/v1/admin/users/{own_id}/ban", headers=bearer(boss["token"]))
    body = await response.json()
    assert (response.status, body["code"], body["errors"][0]["field"]) == (400, 40001, "user_id"), body
    still_in = await client.get("/v1/users/profile", headers=bearer(boss["token"]))
    assert still_in.status == 200  # not banned, and the token was not revoked either
    other = (await login(client, "other"))["user_info"]["user_id"]
    assert (await client.post(f"/v1/admin/users/{other}/ban", headers=bearer(boss["token"]))).status == 200


@pytest.mark.parametrize(("user_id", "status"), [("999999", 404), ("abc", 400), ("0", 400), ("-3", 400)])
async def test_admin_routes_validate_the_user_id(client, user_id, status):
    boss = (await login(client, "boss"))["token"]
    response = await client.post(f"/v1/admin/users/{user_id}/ban", headers=bearer(boss))
    assert response.status == status


async def test_who_is_asking_comes_before_what_they_sent(client):
    bad_profile = {"gender": "not a number"}
    anonymous = await client.put("/v1/users/profile", json=bad_profile)
    assert anonymous.status == 401
    user = bearer((await login(client, "someone"))["token"])
    assert (await client.put("/v1/users/profile", json=bad_profile, headers=user)).status == 400
    not_admin = await client.post("/v1/admin/users/1/points", json={"delta": "lots"}, headers=user)
    assert not_admin.status == 403
