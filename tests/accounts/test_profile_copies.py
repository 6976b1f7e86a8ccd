"""The profile read served from the process's copy while the user's row version is unchanged,
on both profiles: every write through the product (profile, avatar, settings, points, login) is
seen by the very next read, from this process and from another one on the same Redis and
database; revocation is still checked on every read; the copies stay bounded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mengchong.accounts.models import User
from mengchong.keys import database_key, user_rows_key
from mengchong.storage.row_versions import VersionedCopies
from support import bearer, login, settings_from

ADMIN = "boss"


@pytest.fixture
def settings(profile):
    return settings_from(profile, auth={"admin_openids": [f"mock-{ADMIN}"]})


@pytest.fixture
async def client(settings, make_client):
    return await make_client(settings)


async def sign_in(client, code: str) -> tuple[int, dict[str, str]]:
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def read_profile(client, auth: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/users/profile", headers=auth)
    payload = await response.json()
    assert response.status == 200, payload
    return payload["data"]


async def behind_the_products_back(client, user_id: int, nickname: str) -> None:
    """A change no writer of ours made (nobody touches the row): what shows the copy is served."""
    database = client.server.app[database_key]
    with database.activate():
        await User.filter(id=user_id).update(nickname=nickname)


async def test_a_second_read_is_served_from_the_copy_and_a_write_shows_at_once(client):
    user_id, auth = await sign_in(client, "alice")
    assert (await read_profile(client, auth))["nickname"] == ""
    await behind_the_products_back(client, user_id, "unseen")
    assert (await read_profile(client, auth))["nickname"] == ""  # the copy: no database read

    response = await client.put("/v1/users/profile", json={"gender": 1}, headers=auth)
    assert response.status == 200
    after = await read_profile(client, auth)
    assert (after["gender"], after["nickname"]) == (1, "unseen")  # read again after the write


@pytest.mark.parametrize(
    ("method", "path", "body", "seen"),
    [
        ("PUT", "/v1/users/profile", {"nickname": "新名字"}, ("nickname", "新名字")),
        ("POST", "/v1/users/avatar", {"avatar_url": "https://img.example/a.png"}, ("avatar_url", None)),
        ("PUT", "/v1/users/settings", {"privacy_prefs": {"profile_public": False}}, ("privacy_prefs", None)),
    ],
)
async def test_each_write_of_the_user_is_seen_by_the_next_read(client, method, path, body, seen):
    _, auth = await sign_in(client, "alice")
    before = await read_profile(client, auth)
    response = await client.request(method, path, json=body, headers=auth)
    assert response.status == 200, await response.json()
    after = await read_profile(client, auth)
    field, value = seen
    assert after[field] != before[field]
    if value is not None:
        assert after[field] == value


async def test_a_points_change_shows_in_the_next_read(client):
    user_id, auth = await sign_in(client, "alice")
    _, admin = await sign_in(client, ADMIN)
    assert (await read_profile(client, auth))["points_balance"] == 0
    granted = await client.post(
        f"/v1/admin/users/{user_id}/points", json={"delta": 30, "reason": "gift"}, headers=admin
    )
    assert granted.status == 200, await granted.json()
    assert (await read_profile(client, auth))["points_balance"] == 30


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_a_login_that_makes_the_user_an_admin_shows_the_new_role(settings, make_client):
    client = await make_client(settings)
    _, auth = await sign_in(client, "alice")
    assert (await read_profile(client, auth))["role"] == "user"
    promoted = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"admin_openids": ["mock-alice"]})}
    )
    other = await make_client(promoted)  # an operator adds alice to admin_openids and restarts
    _, fresh = await sign_in(other, "alice")
    assert (await read_profile(other, fresh))["role"] == "admin"
    assert (await read_profile(client, fresh))["role"] == "admin"  # the first process drops its copy


async def test_revocation_is_checked_even_when_the_profile_is_kept(client):
    _, auth = await sign_in(client, "alice")
    await read_profile(client, auth)
    assert (await client.post("/v1/auth/logout", headers=auth)).status == 200
    refused = await client.get("/v1/users/profile", headers=auth)
    assert refused.status == 401


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_another_process_sees_a_write_at_once(settings, make_client):
    first = await make_client(settings)
    second = await make_client(settings)  # a second process: same database and Redis prefix
    user_id, auth = await sign_in(first, "alice")
    _, admin = await sign_in(first, ADMIN)
    assert (await read_profile(first, auth))["nickname"] == ""
    assert (await read_profile(second, auth))["nickname"] == ""  # each keeps a copy now

    changed = await second.put("/v1/users/profile", json={"nickname": "第二"}, headers=auth)
    assert changed.status == 200
    assert (await read_profile(first, auth))["nickname"] == "第二"

    granted = await second.post(
        f"/v1/admin/users/{user_id}/points", json={"delta": 5, "reason": "gift"}, headers=admin
    )
    assert granted.status == 200
    assert (await read_profile(first, auth))["points_balance"] == 5


async def test_copies_off_reads_the_database_every_time(profile, make_client):
    client = await make_client(settings_from(profile, cache={"profiles": 0}))
    user_id, auth = await sign_in(client, "alice")
    await profile_read_twice_sees(client, user_id, auth)
    assert len(client.server.app[user_rows_key].profiles) == 0


async def profile_read_twice_sees(client, user_id: int, auth: dict[str, str]) -> None:
    assert (await read_profile(client, auth))["nickname"] == ""
    await behind_the_products_back(client, user_id, "seen")
    assert (await read_profile(client, auth))["nickname"] == "seen"


async def test_a_copy_older_than_the_max_age_is_read_again(profile, make_client, monkeypatch):
    client = await make_client(settings_from(profile, cache={"profile_max_age_seconds": 30}))
    user_id, auth = await sign_in(client, "alice")
    await read_profile(client, auth)
    now = time.monotonic()
    monkeypatch.setattr("mengchong.storage.row_versions.time.monotonic", lambda: now + 31)
    await behind_the_products_back(client, user_id, "aged")
    assert (await read_profile(client, auth))["nickname"] == "aged"


def test_copies_are_bounded_least_recently_used_first():
    copies: VersionedCopies[str] = VersionedCopies(size=2, max_age_seconds=60)
    copies.put(1, "v1", "one")
    copies.put(2, "v1", "two")
    assert copies.get(1, "v1") == "one"  # 1 is now the most recently used
    copies.put(3, "v1", "three")
    assert (copies.get(2, "v1"), copies.get(1, "v1"), copies.get(3, "v1")) == (None, "one", "three")
    assert copies.get(1, "v2") is None  # another version: dropped
    assert copies.get(1, "v1") is None
    assert len(copies) == 1
