"""Signed photo URLs: the mini program's <image> can't send a header, so a photo's URL carries a
signature for one photo, one user and that user's token version, for an hour. Tampering,
expiry, another photo or user, non-ASCII signatures, logout and bans all end it. They are
signed with a key of their own (not the JWT secret itself), and point at the scheme, host and
port the request came to unless ``app.public_url`` says otherwise."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from PIL import Image

from mengchong.accounts.login import revoke_tokens
from mengchong.http.errors import ErrorCode
from mengchong.keys import database_key, settings_key
from mengchong_plugins.pets import photos
from pets_support import adopted, orange_photo, striped_photo, upload, user_id_of
from photo_support import fetch, path_of, signed_path
from served import served
from support import bearer, login, settings_from


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
    expired = signed_path(client, first["photo_id"], alice_id, now=datetime.now(UTC) - timedelta(hours=2))
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


# --- the signing key --------------------------------------------------------------------------


def derived_key(jwt_secret: str) -> bytes:
    """The documented derivation, written out here so that the test pins it."""
    return hmac.new(jwt_secret.encode(), b"mengchong photo urls v1", hashlib.sha256).digest()


async def test_photo_urls_are_signed_with_a_key_derived_from_the_jwt_secret_not_with_it(client, alice):
    secret = client.server.app[settings_key].auth.jwt_secret
    alice_id = user_id_of(alice)
    photo = await upload(client, alice, orange_photo())
    query = dict(part.split("=", 1) for part in photo["photo_url"].split("?", 1)[1].split("&"))
    message = f"{photo['photo_id']}:{alice_id}:0:{query['exp']}".encode()
    assert query["sig"] == hmac.new(derived_key(secret), message, hashlib.sha256).hexdigest()[:32]

    with_the_jwt_secret = signed_path(client, photo["photo_id"], alice_id, key=secret.encode())
    response = await fetch(client, with_the_jwt_secret)
    assert (response.status, (await response.json())["code"]) == (401, ErrorCode.UNAUTHORIZED)
    with_the_derived_key = signed_path(client, photo["photo_id"], alice_id, key=derived_key(secret))
    assert (await fetch(client, with_the_derived_key)).status == 200


async def test_rotating_the_jwt_secret_ends_the_photo_links_signed_before(profile, make_client):
    old, new = "old-secret-" + "o" * 32, "new-secret-" + "n" * 32
    before = await make_client(
        settings_from(profile, plugins={"enabled": ["pets"]}, auth={"jwt_secret": old, "jwt_kid": "k1"})
    )
    alice = bearer((await login(before, "alice"))["token"])
    photo = await upload(before, alice, orange_photo())
    link = path_of(photo["photo_url"])
    assert (await fetch(before, link)).status == 200

    rotated = {"jwt_secret": new, "jwt_kid": "k2", "jwt_previous_keys": {"k1": old}}
    after = await make_client(settings_from(profile, plugins={"enabled": ["pets"]}, auth=rotated))
    response = await fetch(after, link)
    assert (response.status, (await response.json())["code"]) == (401, ErrorCode.UNAUTHORIZED)
    # The old token still works until it expires (jwt_previous_keys), and so do the links it
    # gets now, signed with the new key.
    assert (await fetch(after, link, alice)).status == 200
    fresh = await upload(after, alice, striped_photo())
    assert (await fetch(after, path_of(fresh["photo_url"]))).status == 200


# --- the host the URLs name -------------------------------------------------------------------


async def uploaded_url(client, auth: dict[str, str], headers: dict[str, str] | None = None) -> str:
    form = aiohttp.FormData()
    form.add_field("file", orange_photo(), filename="photo.png", content_type="image/png")
    response = await client.post("/v1/pets/upload_photo", data=form, headers={**auth, **(headers or {})})
    body = await response.json()
    assert response.status == 200, body
    return body["data"]["photo_url"]


def own_base(client) -> str:
    return f"http://127.0.0.1:{client.port}"


async def test_a_photo_url_names_the_scheme_host_and_port_of_the_request(client, alice):
    url = await uploaded_url(client, alice)
    assert url.startswith(f"{own_base(client)}/v1/pets/photos/"), url
    async with client.session.get(url) as response:  # the absolute URL, as handed out
        assert response.status == 200
        assert Image.open(io.BytesIO(await response.read())).format == "PNG"
    # The name the client used is the one handed back.
    named = await uploaded_url(client, alice, {"Host": f"localhost:{client.port}"})
    assert named.startswith(f"http://localhost:{client.port}/v1/pets/photos/"), named


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pets.example.com"}


@pytest.mark.parametrize(
    ("overrides", "trusted"),
    [
        ({}, False),
        ({"server": {"trust_proxy": True}}, True),
        ({"ratelimit": {"trust_forwarded_for": True}}, True),
    ],
    ids=["untrusted", "server.trust_proxy", "ratelimit.trust_forwarded_for"],
)
async def test_forwarded_scheme_and_host_only_from_a_trusted_proxy(
    profile, make_client, overrides: dict[str, Any], trusted: bool
):
    client = await make_client(settings_from(profile, plugins={"enabled": ["pets"]}, **overrides))
    alice = bearer((await login(client, "alice"))["token"])
    url = await uploaded_url(client, alice, FORWARDED)
    expected = "https://pets.example.com" if trusted else own_base(client)
    assert url.startswith(f"{expected}/v1/pets/photos/"), url


OWN = "http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("headers", "base"),
    [
        ({"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example.com, b.example.com"}, OWN),
        ({"X-Forwarded-Proto": "ftp", "X-Forwarded-Host": "a .example.com"}, OWN),
        ({"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "evil.example/x?y#"}, OWN),
        (
            {"X-Forwarded-Proto": "HTTPS", "X-Forwarded-Host": "evil.example:99999"},
            "https://127.0.0.1:{port}",
        ),
        ({"X-Forwarded-Proto": "", "X-Forwarded-Host": "[::1]:8443"}, "http://[::1]:8443"),
        ({"Host": "bad host"}, OWN),
        ({"Host": "evil.example/path"}, OWN),
    ],
)
async def test_malformed_forwarded_values_and_hosts_fall_back_to_the_requests_own(
    profile, make_client, headers: dict[str, str], base: str
):
    """Each value is judged on its own: a bad one is replaced by the request's, never used."""
    settings = settings_from(profile, plugins={"enabled": ["pets"]}, server={"trust_proxy": True})
    client = await make_client(settings)
    alice = bearer((await login(client, "alice"))["token"])
    url = await uploaded_url(client, alice, headers)
    assert url.startswith(f"{base.format(port=client.port)}/v1/pets/photos/"), url


async def test_a_configured_public_url_wins(profile, make_client):
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets"]},
        app={"public_url": "https://api.example.com/mengchong/"},
        server={"trust_proxy": True},
    )
    client = await make_client(settings)
    alice = bearer((await login(client, "alice"))["token"])
    url = await uploaded_url(client, alice, FORWARDED)
    assert url.startswith("https://api.example.com/mengchong/v1/pets/photos/"), url


async def test_a_served_photo_url_works_at_the_host_and_port_it_names(tmp_path):
    """``MENGCHONG__SERVER__PORT=N mengchong serve`` hands out photo URLs on port N that work."""
    environment = {"MENGCHONG__SERVER__ACCESS_LOG": "false"}
    async with served(tmp_path, **environment) as server, aiohttp.ClientSession() as session:
        async with session.post(f"{server.base}/v1/auth/wechat_login", json={"code": "alice"}) as response:
            auth = bearer((await response.json())["data"]["token"])
        form = aiohttp.FormData()
        form.add_field("file", orange_photo(), filename="photo.png", content_type="image/png")
        async with session.post(f"{server.base}/v1/pets/upload_photo", data=form, headers=auth) as response:
            body = await response.json()
            assert response.status == 200, body
        url = body["data"]["photo_url"]
        assert url.startswith(f"http://127.0.0.1:{server.port}/v1/pets/photos/"), url
        async with session.get(url) as response:
            assert response.status == 200
            assert response.content_type == "image/png"


def test_a_link_is_the_same_for_a_step_and_lives_an_hour_to_an_hour_and_a_step() -> None:
    step, lifetime = photos.URL_EXPIRY_STEP_SECONDS, photos.URL_LIFETIME_SECONDS
    start = datetime(2026, 12, 7, 8, 0, 0, tzinfo=UTC)  # on a step's boundary

    def link(at: datetime, photo: str = "ab" * 16, user: int = 7, version: int = 0) -> str:
        return photos.signed_url("https://pets.example/", b"k" * 32, photo, user, version, at)

    def expiry(url: str) -> int:
        return int(re.search(r"exp=(\d+)", url).group(1))

    for offset in (0, 1, step - 1, step, step + 1, 7 * step + 123):
        at = start + timedelta(seconds=offset)
        assert lifetime <= expiry(link(at)) - at.timestamp() < lifetime + step
    assert link(start + timedelta(seconds=1)) == link(start + timedelta(seconds=step - 1))
    assert link(start + timedelta(seconds=1)) != link(start + timedelta(seconds=step + 1))
    # what it names is in the signature, kept or not
    assert len({link(start), link(start, photo="cd" * 16), link(start, user=8), link(start, version=1)}) == 4
    assert link(start).startswith("https://pets.example/v1/pets/photos/")


async def test_two_reads_of_a_pet_hand_out_one_photo_link(client, alice):
    pet = await adopted(client, alice)
    links = []
    for _ in range(3):  # a step may turn between two reads, not twice in three
        read = await (await client.get(f"/v1/pets/{pet['pet_id']}", headers=alice)).json()
        links.append(read["data"]["thumbnail_url"])
    assert links[0]
    assert links[0] == links[1] or links[1] == links[2]
