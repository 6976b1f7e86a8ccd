"""The auth guard over HTTP: every bad token of RFC 8725 (forged, expired, ``alg: none`` in any
case, HS/RS confusion, injected or unknown ``kid``, claims missing or out of range) is 401;
logout and bans revoke every token at once; admins only for admin routes; keys rotate."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def hmac_signed(header: dict, payload: dict, key: str = SECRET) -> str:
    """A token whose header says what the test wants, signed with HMAC-SHA256 by our key: what
    an attacker holding a public key would send to a server that trusted the header's ``alg``."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    digest = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def without(payload: dict, name: str) -> dict:
    return {key: value for key, value in payload.items() if key != name}


def forged(user_id: str, valid_token: str) -> dict[str, str]:
    """Every way RFC 8725 says a token goes wrong, each of which must be refused."""
    head, body, signature = valid_token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    sign = lambda payload, key=SECRET, kid="k1", alg="HS256": jwt.encode(  # noqa: E731
        payload, key, algorithm=alg, headers={"kid": kid}
    )
    now = int(time.time())
    mine = claims(user_id)
    cases = {
        "tampered signature": f"{head}.{body}.{flipped}",
        "tampered payload": f"{head}.{b64(claims('999'))}.{signature}",
        "no signature": f"{head}.{body}.",
        "HS384": sign(mine, alg="HS384"),
        "HS512": sign(mine, alg="HS512"),
        "unknown kid": sign(mine, kid="k9"),
        "no kid": jwt.encode(mine, SECRET, algorithm="HS256"),
        "kid a path": sign(mine, kid="../../../../dev/null"),
        "kid SQL": sign(mine, kid="k1' OR '1'='1"),
        "kid a number": hmac_signed({"alg": "HS256", "kid": 1}, mine),
        "kid a list": hmac_signed({"alg": "HS256", "kid": ["k1"]}, mine),
        "crit header": hmac_signed({"alg": "HS256", "kid": "k1", "crit": ["exp"]}, mine),
        "HMAC under an RS256 header": hmac_signed({"alg": "RS256", "kid": "k1"}, mine),
        "HMAC under an ES256 header": hmac_signed({"alg": "ES256", "kid": "k1"}, mine),
        "HMAC under a PS256 header": hmac_signed({"alg": "PS256", "kid": "k1"}, mine),
        "wrong secret": sign(mine, key="x" * 48),
        "expired": sign(claims(user_id, iat=now - 700, exp=now - 100)),
        "expired beyond the leeway": sign(claims(user_id, iat=now - 661, exp=now - 61)),
        "expiring now": sign(claims(user_id, iat=now - 600, exp=now)),
        "not before the future": sign(claims(user_id, nbf=now + 120)),
        "issued in the future": sign(claims(user_id, iat=now + 3600, exp=now + 4200)),
        "a lifetime longer than ours": sign(claims(user_id, exp=now + 10 * 365 * 86400)),
        "wrong issuer": sign(claims(user_id, iss="someone-else")),
        "wrong audience": sign(claims(user_id, aud="someone-else")),
        "audience a list without us": sign(claims(user_id, aud=["a", "b"])),
        "exp a string": sign(claims(user_id, exp=str(now + 600))),
        "sub a number": sign(claims(user_id) | {"sub": int(user_id)}),
        "sub a name": sign(claims("alice")),
        "sub zero": sign(claims("0")),
        "sub negative": sign(claims("-1")),
        "unknown user": sign(claims("424242")),
        "old token version": sign(claims(user_id, ver=-1)),
        "a version not yet issued": sign(claims(user_id, ver=1)),
        "version a string": sign(claims(user_id, ver="0")),
        "oversized": f"{head}.{b64(mine | {'pad': 'p' * 4000})}.{signature}",
        "not a jwt": "hello",
        "two segments": f"{head}.{body}",
        "four segments": f"{head}.{body}.{signature}.x",
        "not base64": f"{head}.{body}!.{signature}",
        "payload not JSON": f"{head}.{base64.urlsafe_b64encode(b'[1,2').decode()}.{signature}",
        "non-ASCII": f"{head}.{body}.{signature}é",
    }
    for name in ("iss", "aud", "exp", "iat", "sub"):
        cases[f"no {name}"] = sign(without(mine, name))
    for spelling in ("none", "None", "NONE", "nOnE"):
        none_head = b64({"alg": spelling, "typ": "JWT", "kid": "k1"})
        cases[f"alg {spelling}"] = f"{none_head}.{body}."
        cases[f"alg {spelling}, signature kept"] = f"{none_head}.{body}.{signature}"
    return cases


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
