"""Profile, avatar and settings: a table of bad inputs, each 400/422 naming the field; the
sensitive-word filter on nicknames; settings defaults and merging."""

from __future__ import annotations

import pytest

from mengchong.keys import files_key
from support import bearer, login, settings_from


@pytest.fixture
async def client(profile, make_client):
    return await make_client(settings_from(profile))


@pytest.fixture
async def alice(client):
    return bearer((await login(client, "alice"))["token"])


async def test_profile_defaults(client, alice):
    data = (await (await client.get("/v1/users/profile", headers=alice)).json())["data"]
    assert data["nickname"] == ""
    assert (data["gender"], data["birthday"], data["points_balance"]) == (0, None, 0)
    assert data["notification_prefs"]["checkin_reminder"] is True
    assert data["privacy_prefs"]["profile_public"] is True


async def test_profile_update_round_trip(client, alice):
    body = {
        "nickname": "  小白的主人 ",
        "gender": 2,
        "birthday": "1999-12-31",
        "avatar_url": "https://img.example/a.png",
    }
    response = await client.put("/v1/users/profile", json=body, headers=alice)
    data = (await response.json())["data"]
    assert response.status == 200
    assert (data["nickname"], data["gender"], data["birthday"]) == ("小白的主人", 2, "1999-12-31")
    again = (await (await client.get("/v1/users/profile", headers=alice)).json())["data"]
    assert again == data


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"nickname": ""}, "nickname", 400),
        ({"nickname": "    "}, "nickname", 400),
        ({"nickname": "名" * 21}, "nickname", 400),
        ({"nickname": 12}, "nickname", 400),
        ({"nickname": "傻逼"}, "nickname", 422),
        ({"nickname": "ｆｕｃｋ"}, "nickname", 422),
        ({"nickname": "F u C k"}, "nickname", 422),
        ({"gender": 3}, "gender", 400),
        ({"gender": -1}, "gender", 400),
        ({"gender": "1"}, "gender", 400),
        ({"birthday": "2999-01-01"}, "birthday", 400),
        ({"birthday": "1800-01-01"}, "birthday", 400),
        ({"birthday": "2020-02-30"}, "birthday", 400),
        ({"birthday": "yesterday"}, "birthday", 400),
        ({"avatar_url": "http://plain.example/a.png"}, "avatar_url", 400),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url", 400),
        ({"avatar_url": "https://" + "x" * 600}, "avatar_url", 400),
        ({"avatar_url": "https://"}, "avatar_url", 400),
        ({"avatar_url": "https://img.example/a b.png"}, "avatar_url", 400),
        ({"avatar_url": "https://img.example/a\u2028.png"}, "avatar_url", 400),
        ({"avatar_url": "https://[::1/a.png"}, "avatar_url", 400),
        ({"avatar_url": "https:///no-host.png"}, "avatar_url", 400),
        ({"points_balance": 1000000}, "points_balance", 400),
        ({"role": "admin"}, "role", 400),
        ({"openid": "mock-boss"}, "openid", 400),
        ({"user_id": 1}, "user_id", 400),
        ({"id": 1}, "id", 400),
        ({"is_admin": True}, "is_admin", 400),
        ({"token_version": 0}, "token_version", 400),
        ({"nickname": "ok", "points_balance": 5}, "points_balance", 400),
    ],
)
async def test_bad_profile_updates_name_the_field(client, alice, body, field, status):
    response = await client.put("/v1/users/profile", json=body, headers=alice)
    payload = await response.json()
    assert response.status == status, payload
    assert payload["errors"][0]["field"] == field
    assert payload["code"] == (42203 if status == 422 else 40001)
    unchanged = (await (await client.get("/v1/users/profile", headers=alice)).json())["data"]
    assert (unchanged["nickname"], unchanged["points_balance"], unchanged["role"]) == ("", 0, "user")


async def test_avatar_takes_https_urls_and_our_own_file_ids(client, alice):
    ok = await client.post(
        "/v1/users/avatar", json={"avatar_url": "https://img.example/me.png"}, headers=alice
    )
    assert (await ok.json())["data"] == {"avatar_url": "https://img.example/me.png"}
    key = await client.server.app[files_key].put(b"\x89PNG fake", suffix=".png")
    ours = await client.post("/v1/users/avatar", json={"avatar_url": key}, headers=alice)
    assert ours.status == 200
    unknown = await client.post("/v1/users/avatar", json={"avatar_url": "A" * 32}, headers=alice)
    assert unknown.status == 400
    assert (await unknown.json())["errors"][0]["field"] == "avatar_url"


async def test_settings_default_then_merge(client, alice):
    defaults = (await (await client.get("/v1/users/settings", headers=alice)).json())["data"]
    assert defaults["notification_prefs"] == {
        "checkin_reminder": True,
        "activity_push": False,
        "pet_status_alert": True,
    }
    response = await client.put(
        "/v1/users/settings", json={"notification_prefs": {"activity_push": True}}, headers=alice
    )
    merged = (await response.json())["data"]
    assert merged["notification_prefs"] == {
        "checkin_reminder": True,
        "activity_push": True,
        "pet_status_alert": True,
    }
    assert merged["privacy_prefs"] == defaults["privacy_prefs"]
    again = await client.put(
        "/v1/users/settings", json={"privacy_prefs": {"profile_public": False}}, headers=alice
    )
    final = (await again.json())["data"]
    assert final["notification_prefs"]["activity_push"] is True
    assert final["privacy_prefs"]["profile_public"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notification_prefs": {"spam_me": True}}, "notification_prefs.spam_me"),
        ({"notification_prefs": {"checkin_reminder": "yes"}}, "notification_prefs.checkin_reminder"),
        ({"privacy_prefs": {"profile_public": 1}}, "privacy_prefs.profile_public"),
        ({"privacy_prefs": "public"}, "privacy_prefs"),
        ({"theme": "dark"}, "theme"),
    ],
)
async def test_bad_settings_name_the_field(client, alice, body, field):
    response = await client.put("/v1/users/settings", json=body, headers=alice)
    payload = await response.json()
    assert response.status == 400, payload
    assert field in [error["field"] for error in payload["errors"]]
