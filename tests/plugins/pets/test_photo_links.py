"""Signed photo URLs: the mini program's <image> can't send a header, so a photo's URL carries a
signature for one photo, one user and that user's token version, for an hour. Tampering,
expiry, another photo or user, non-ASCII signatures, logout and bans all end it."""

from __future__ import annotations

import re
import time

import pytest
from conftest import orange_photo, striped_photo, upload, user_id_of
from photo_support import fetch, path_of, signed_path

from mengchong.accounts.login import revoke_tokens
from mengchong.http.errors import ErrorCode
from mengchong.keys import database_key
from support import bearer, login


@pytest.fixture
def pets_overrides() -> dict:
    return {}


async def test_signed_urls_expire_and_name_one_photo_and_one_user(client, alice):
    alice_id = user_id_of(alice)
    first = await upload(client, alice, orange_photo())
    second = await upload(client, alice, striped_photo())
    bob = bearer((await login(client, "bob"))["token"])
    bobs = await upload(client, bob, orange_photo())

    # Built the way the server builds them, a fresh one works without a header...
    assert (await fetch(client, signed_path(client, first["photo_id"], alice_id))).status == 200
    # ...and one issued two hours ago has expired.
    expired = signed_path(client, first["photo_id"], alice_id, now=time.time() - 7200)
    response = await fetch(client, expired)
    assert response.status == 401
    assert (await response.json())["code"] == ErrorCode.UNAUTHORIZED

    query = first["photo_url"].split("?", 1)[1]
    assert (await fetch(client, f"/v1/pets/photos/{first['photo_id']}?{query}")).status == 200
    assert (await fetch(client, f"/v1/pets/photos/{bobs['photo_id']}?{query}")).status == 401
    assert (await fetch(client, f"/v1/pets/photos/{second['photo_id']}?{query}")).status == 401
    # Changing the user or pushing the expiry breaks the signature too.
    tampered_uid = query.replace(f"uid={alice_id}", f"uid={user_id_of(bob)}")
    assert tampered_uid != query
    assert (await fetch(client, f"/v1/pets/photos/{bobs['photo_id']}?{tampered_uid}")).status == 401
    exp = int(re.search(r"exp=(\d+)", query).group(1))
    later = query.replace(f"exp={exp}", f"exp={exp + 86400}")
    assert (await fetch(client, f"/v1/pets/photos/{first['photo_id']}?{later}")).status == 401


@pytest.mark.parametrize("sig", ["1%C2%81A", "%E9", "%00", "x" * 300, ""])
async def test_a_malformed_signature_falls_back_to_the_bearer_token(client, alice, sig):
    photo = await upload(client, alice, orange_photo())
    query = f"uid={user_id_of(alice)}&ver=0&exp={int(time.time()) + 60}&sig={sig}"
    path = f"/v1/pets/photos/{photo['photo_id']}?{query}"
    anonymous = await fetch(client, path)
    assert anonymous.status == 401
    assert (await fetch(client, path, alice)).status == 200


async def test_logout_ends_every_signed_url_of_the_user(client):
    alice_login = await login(client, "alice")
    alice = bearer(alice_login["token"])
    bob = bearer((await login(client, "bob"))["token"])
    mine, bobs = await upload(client, alice, orange_photo()), await upload(client, bob, orange_photo())
    assert (await fetch(client, path_of(mine["photo_url"]))).status == 200
    assert (await client.post("/v1/auth/logout", headers=alice)).status == 200
    response = await fetch(client, path_of(mine["photo_url"]))
    assert (response.status, (await response.json())["code"]) == (401, ErrorCode.UNAUTHORIZED)
    # Bob's link is not touched by Alice's logout.
    assert (await fetch(client, path_of(bobs["photo_url"]))).status == 200
    # A fresh login hands out links that work again.
    again = bearer((await login(client, "alice"))["token"])
    listed = await client.get("/v1/users/pets", headers=again)
    assert listed.status == 200
    fresh = await upload(client, again, striped_photo())
    assert (await fetch(client, path_of(fresh["photo_url"]))).status == 200


async def test_a_ban_ends_the_users_signed_urls_and_lifting_it_does_not_revive_them(client):
    alice = bearer((await login(client, "alice"))["token"])
    photo = await upload(client, alice, orange_photo())
    link = path_of(photo["photo_url"])
    assert (await fetch(client, link)).status == 200
    alice_id = user_id_of(alice)
    app = client.server.app
    with app[database_key].activate():
        await revoke_tokens(app, alice_id, ban=True)
    assert (await fetch(client, link)).status == 401
    with app[database_key].activate():
        await revoke_tokens(app, alice_id, ban=False)
    assert (await fetch(client, link)).status == 401  # the version moved on
    assert (await fetch(client, signed_path(client, photo["photo_id"], alice_id, version=2))).status == 200
