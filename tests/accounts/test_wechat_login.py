"""Login against a fake WeChat server (live mode): every error code's mapping, one retry when
WeChat is busy, and the encrypted user profile of a new user."""

from __future__ import annotations

import base64
import os

import pytest

from fakes.wechat import APPID, SECRET, FakeWechat, session_key_for
from mengchong.wechat import encrypt_user_data
from support import settings_from


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeWechat(slow_seconds=2)
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url(""))  # type: ignore[attr-defined]
    return fake


@pytest.fixture
async def client(profile, make_client, fake):
    wechat = {"mode": "live", "appid": APPID, "secret": SECRET, "api_base": fake.base, "timeout_seconds": 0.5}
    return await make_client(settings_from(profile, wechat=wechat))


@pytest.mark.parametrize(
    ("code", "status", "business", "calls"),
    [
        ("invalid", 400, 40001, 1),  # 40029 invalid code
        ("used", 400, 40001, 1),  # 40163 code already used
        ("frequent", 429, 42901, 1),  # 45011 too frequent
        ("busy", 502, 50201, 2),  # -1 system busy, retried once
        ("slow", 502, 50201, 2),  # no answer in time, retried once
        ("http500", 502, 50201, 2),
    ],
)
async def test_wechat_errors_map_to_clear_answers(client, fake, code, status, business, calls):
    response = await client.post("/v1/auth/wechat_login", json={"code": code})
    body = await response.json()
    assert response.status == status, body
    assert body["code"] == business
    assert len([c for c in fake.calls if c[0] == "jscode2session"]) == calls
    if status == 429:
        assert int(response.headers["Retry-After"]) > 0
    if status == 400:
        assert body["errors"][0]["field"] == "code"


async def test_busy_once_then_logged_in(client):
    response = await client.post("/v1/auth/wechat_login", json={"code": "busy-once"})
    assert response.status == 200
    assert (await response.json())["data"]["user_info"]["openid"] == "o-busy-once"


def encrypted_profile(openid: str, appid: str = APPID) -> dict[str, str]:
    iv = os.urandom(16)
    data = {"nickName": "  小明 ", "avatarUrl": "https://wx.qlogo.cn/a.png", "watermark": {"appid": appid}}
    return {
        "encryptedData": encrypt_user_data(session_key_for(openid), data, iv),
        "iv": base64.b64encode(iv).decode(),
    }


async def test_a_new_users_profile_comes_from_encrypted_data(client):
    body = {"code": "code-ming", **encrypted_profile("o-ming")}
    response = await client.post("/v1/auth/wechat_login", json=body)
    info = (await response.json())["data"]["user_info"]
    assert (info["nickname"], info["avatar_url"]) == ("小明", "https://wx.qlogo.cn/a.png")


@pytest.mark.parametrize(
    "payload",
    [
        encrypted_profile("o-someone-else"),  # another session's key
        encrypted_profile("o-ming", appid="wx-other-app"),  # another app's watermark
        {"encryptedData": "!!!not base64", "iv": base64.b64encode(os.urandom(16)).decode()},
        {"encryptedData": base64.b64encode(b"x" * 32).decode(), "iv": "c2hvcnQ="},
    ],
)
async def test_a_bad_encrypted_payload_is_400_not_500(client, payload):
    response = await client.post("/v1/auth/wechat_login", json={"code": "code-ming", **payload})
    body = await response.json()
    assert response.status == 400, body
    assert body["errors"][0]["field"] == "encryptedData"


async def test_wechat_content_check_refuses_a_nickname(profile, make_client, fake):
    wechat = {"mode": "live", "appid": APPID, "secret": SECRET, "api_base": fake.base, "timeout_seconds": 0.5}
    client = await make_client(settings_from(profile, wechat=wechat, moderation={"wechat_check": True}))
    response = await client.post("/v1/auth/wechat_login", json={"code": "code-nick"})
    token = (await response.json())["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    refused = await client.put("/v1/users/profile", json={"nickname": "my badword"}, headers=headers)
    body = await refused.json()
    assert refused.status == 422, body
    assert (body["code"], body["errors"][0]["field"]) == (42203, "nickname")
    assert (await client.put("/v1/users/profile", json={"nickname": "Lucky"}, headers=headers)).status == 200
    checked = [call[1]["content"] for call in fake.calls if call[0] == "msg_sec_check"]
    assert checked == ["my badword", "Lucky"]
