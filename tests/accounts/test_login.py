"""WeChat login on both profiles: new and returning users, concurrent first logins, the
privacy-policy consent, admins from config, and the session key kept server-side."""

from __future__ import annotations

import asyncio

import pytest

from mengchong.accounts.models import User, UserLoginLog
from mengchong.keys import database_key
from support import bearer, login, settings_from


@pytest.fixture
async def client(profile, make_client):
    return await make_client(settings_from(profile, auth={"admin_openids": ["mock-boss"]}))


async def test_a_new_user_then_a_returning_one(client):
    first = await login(client, "alice", agreed_privacy_policy=True)
    assert first["user_info"]["is_new_user"] is True
    assert first["user_info"]["openid"] == "mock-alice"
    assert isinstance(first["user_info"]["user_id"], str)
    second = await login(client, "alice")
    assert second["user_info"]["is_new_user"] is False
    assert second["user_info"]["user_id"] == first["user_info"]["user_id"]

    session = await client.get("/v1/auth/check_session", headers=bearer(second["token"]))
    data = (await session.json())["data"]
    assert data["user_id"] == first["user_info"]["user_id"]
    assert 0 < data["expires_in"] <= 604800

    with client.server.app[database_key].activate():
        user = await User.get(openid="mock-alice")
        assert user.agreed_privacy_policy_at is not None
        assert user.last_login_at is not None
        assert user.session_key  # kept, but never sent
        logs = await UserLoginLog.filter(user_id=user.id).order_by("id")
        assert [log.is_new_user for log in logs] == [True, False]
    assert user.session_key not in str(first) + str(second)


async def test_concurrent_first_logins_create_exactly_one_user(client):
    results = await asyncio.gather(*(login(client, "racer") for _ in range(20)))
    assert len({r["user_info"]["user_id"] for r in results}) == 1
    assert sum(r["user_info"]["is_new_user"] for r in results) == 1
    with client.server.app[database_key].activate():
        assert await User.filter(openid="mock-racer").count() == 1
        assert await UserLoginLog.filter(user__openid="mock-racer").count() == 20


async def test_admins_come_from_config(client):
    boss = await login(client, "boss")
    profile = await (await client.get("/v1/users/profile", headers=bearer(boss["token"]))).json()
    assert profile["data"]["role"] == "admin"
    pleb = await login(client, "pleb")
    profile = await (await client.get("/v1/users/profile", headers=bearer(pleb["token"]))).json()
    assert profile["data"]["role"] == "user"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "code"),
        ({"code": ""}, "code"),
        ({"code": "has space"}, "code"),  # mock mode: [A-Za-z0-9_-]{1,64}
        ({"code": "x" * 129}, "code"),
        ({"code": "ok", "iv": "AAAA"}, "encryptedData"),
        ({"code": "ok", "encryptedData": "AAAA"}, "iv"),
        ({"code": "ok", "agreed_privacy_policy": "maybe"}, "agreed_privacy_policy"),
        ({"code": "ok", "unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_login_bodies_are_400_naming_the_field(client, body, field):
    response = await client.post("/v1/auth/wechat_login", json=body)
    payload = await response.json()
    assert response.status == 400, payload
    assert payload["code"] == 40001
    assert field in [error["field"] for error in payload["errors"]]
