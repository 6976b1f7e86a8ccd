"""The WeChat client against a fake server speaking the real endpoints and error codes."""

from __future__ import annotations

import base64
import os

import pytest

from fakes.wechat import APPID, SECRET, FakeWechat, session_key_for
from mengchong.config import WechatSettings
from mengchong.wechat import DecryptError, WechatClient, WechatError, decrypt_user_data, encrypt_user_data


@pytest.fixture
async def fake(aiohttp_server):
    fake = FakeWechat()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url(""))  # type: ignore[attr-defined]
    return fake


@pytest.fixture
async def client(fake):
    settings = WechatSettings(
        mode="live", appid=APPID, secret=SECRET, api_base=fake.base, timeout_seconds=0.5
    )
    client = WechatClient(settings)
    await client.open()
    yield client
    await client.close()


async def test_mock_mode_derives_the_openid_from_the_code():
    client = WechatClient(WechatSettings(mode="mock"))
    await client.open()
    try:
        session = await client.code2session("abc_DEF-1")
        assert session.openid == "mock-abc_DEF-1"
        assert len(base64.b64decode(session.session_key)) == 16
        for bad in ("", "x" * 65, "has space", "中文", "a/b"):
            with pytest.raises(WechatError) as error:
                await client.code2session(bad)
            assert error.value.invalid_code
    finally:
        await client.close()


async def test_code2session_sends_the_real_parameters(client, fake):
    session = await client.code2session("code-alice")
    assert (session.openid, session.session_key) == ("o-alice", session_key_for("o-alice"))
    name, query = fake.calls[-1]
    assert name == "jscode2session"
    assert query == {
        "appid": APPID,
        "secret": SECRET,
        "js_code": "code-alice",
        "grant_type": "authorization_code",
    }


@pytest.mark.parametrize(
    ("code", "errcode", "calls"),
    [("invalid", 40029, 1), ("used", 40163, 1), ("frequent", 45011, 1), ("busy", -1, 2), ("http500", -1, 2)],
)
async def test_code2session_errors(client, fake, code, errcode, calls):
    with pytest.raises(WechatError) as error:
        await client.code2session(code)
    assert error.value.errcode == errcode
    assert len(fake.calls) == calls  # busy and 5xx are retried once, nothing else is


async def test_busy_once_then_success_is_retried(client, fake):
    assert (await client.code2session("busy-once")).openid == "o-busy-once"
    assert len(fake.calls) == 2


async def test_a_timeout_is_retried_once_then_reported_as_busy(client, fake):
    fake.slow_seconds = 2
    with pytest.raises(WechatError) as error:
        await client.code2session("slow")
    assert error.value.errcode == -1
    assert len(fake.calls) == 2


async def test_the_access_token_is_cached_and_refreshed_when_expired(client, fake):
    await client.send_subscribe_message("o-alice", "tmpl-1", {"thing1": "签到提醒"}, page="pages/index")
    await client.send_subscribe_message("o-alice", "tmpl-1", {"thing1": "again"})
    assert fake.tokens_issued == 1
    fake.expire_next_token_use = True
    await client.send_subscribe_message("o-alice", "tmpl-1", {"thing1": "third"})
    assert fake.tokens_issued == 2
    assert [m["data"]["thing1"]["value"] for m in fake.sent] == ["签到提醒", "again", "third"]
    assert fake.sent[0]["page"] == "pages/index"


async def test_a_refused_subscription_is_reported(client):
    with pytest.raises(WechatError) as error:
        await client.send_subscribe_message("o-refuser", "tmpl-1", {"thing1": "x"})
    assert error.value.errcode == 43101


async def test_msg_sec_check_v2(client, fake):
    assert await client.check_text("a nice pet name", "o-alice") == "pass"
    assert await client.check_text("my badword pet", "o-alice") == "risky"
    assert fake.calls[-1][1] == {"content": "my badword pet", "version": 2, "scene": 1, "openid": "o-alice"}


def test_encrypted_user_data_round_trip_and_watermark():
    key, iv = session_key_for("o-alice"), os.urandom(16)
    data = {"nickName": "小明", "avatarUrl": "https://x/y.png", "watermark": {"appid": APPID, "timestamp": 1}}
    encrypted = encrypt_user_data(key, data, iv)
    iv_text = base64.b64encode(iv).decode()
    assert decrypt_user_data(key, encrypted, iv_text, APPID)["nickName"] == "小明"
    with pytest.raises(DecryptError, match="another app"):
        decrypt_user_data(key, encrypted, iv_text, "wx-other")


@pytest.mark.parametrize(
    ("session_key", "data", "iv"),
    [
        (session_key_for("o-bob"), None, None),  # another user's key
        (session_key_for("o-alice"), "not base64!!", None),
        (session_key_for("o-alice"), base64.b64encode(b"short").decode(), None),
        (session_key_for("o-alice"), None, base64.b64encode(b"123").decode()),
        ("bad key", None, None),
    ],
)
def test_bad_encrypted_data_is_a_decrypt_error(session_key, data, iv):
    good_iv = os.urandom(16)
    encrypted = encrypt_user_data(session_key_for("o-alice"), {"watermark": {"appid": APPID}}, good_iv)
    with pytest.raises(DecryptError):
        decrypt_user_data(session_key, data or encrypted, iv or base64.b64encode(good_iv).decode(), APPID)
