"""Rate limits: per IP and per user, per-route limits, 429 with Retry-After in the
envelope, exempt paths, and counters shared by two app instances on one Redis. On Redis an
authenticated request counts both limits in the auth guard's one round trip; these tests hold
it to the same rules as the step-by-step path (the embedded profile) and to the same windows."""

from __future__ import annotations

import pytest

from mengchong.keys import cache_key
from support import bearer, login, settings_from


def limits(**ratelimit) -> dict:
    return {"ratelimit": {"per_ip": "1000/minute", "per_user": "1000/minute", **ratelimit}}


async def test_a_route_override_limits_per_ip_with_retry_after(profile, make_client):
    settings = settings_from(profile, **limits(routes={"GET /v1/users/settings": {"per_ip": "3/minute"}}))
    client = await make_client(settings)
    statuses = [(await client.get("/v1/users/settings")).status for _ in range(3)]
    assert statuses == [401, 401, 401]  # counted even before authentication
    refused = await client.get("/v1/users/settings")
    body = await refused.json()
    assert refused.status == 429
    assert body["code"] == 42901
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await client.get("/v1/users/profile")).status == 401  # another route, its own count


async def test_per_user_limits_follow_the_user_not_the_connection(profile, make_client):
    client = await make_client(settings_from(profile, **limits(per_user="2/minute")))
    alice = bearer((await login(client, "alice"))["token"])
    bob = bearer((await login(client, "bob"))["token"])
    assert [(await client.get("/v1/users/profile", headers=alice)).status for _ in range(2)] == [200, 200]
    refused = await client.get("/v1/users/profile", headers=alice)
    assert refused.status == 429
    assert (await refused.json())["code"] == 42901
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await client.get("/v1/users/profile", headers=bob)).status == 200


async def test_requests_with_and_without_a_valid_token_share_the_ip_window(profile, make_client):
    routes = {"GET /v1/users/profile": {"per_ip": "4/minute"}}
    client = await make_client(settings_from(profile, **limits(routes=routes)))
    token = bearer((await login(client, "carol"))["token"])
    seen = [
        (await client.get("/v1/users/profile", headers=headers)).status for headers in ({}, token, {}, token)
    ]
    assert seen == [401, 200, 401, 200]
    for headers in ({}, token, {"Authorization": "Bearer not-a-jwt"}):
        refused = await client.get("/v1/users/profile", headers=headers)
        assert refused.status == 429  # the IP's limit comes before who is asking
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_a_revoked_token_does_not_use_up_its_users_limit(profile, make_client):
    client = await make_client(settings_from(profile, **limits(per_user="3/minute")))
    revoked = bearer((await login(client, "dave"))["token"])
    assert (await client.post("/v1/auth/logout", headers=revoked)).status == 200  # counts once
    assert {(await client.get("/v1/users/profile", headers=revoked)).status for _ in range(5)} == {401}
    fresh = bearer((await login(client, "dave"))["token"])
    assert (await client.get("/v1/users/profile", headers=fresh)).status == 200
    assert (await client.get("/v1/users/profile", headers=fresh)).status == 200
    assert (await client.get("/v1/users/profile", headers=fresh)).status == 429


async def test_counts_from_the_script_and_from_limits_land_in_one_window(profile, make_client):
    """On Redis a request with a cached auth state is counted by the guard's script, one without
    it by ``limits`` itself: both must count into the same window (the same keys)."""
    client = await make_client(settings_from(profile, **limits(per_user="3/minute")))
    token = bearer((await login(client, "frank"))["token"])
    cache = client.server.app[cache_key]

    async def forget_auth_states() -> None:
        if keys := [key async for key in cache.client.scan_iter(match=cache.key("auth", "*"))]:
            await cache.client.delete(*keys)

    assert (await client.get("/v1/users/profile", headers=token)).status == 200  # fills the state
    assert (await client.get("/v1/users/profile", headers=token)).status == 200  # the script
    await forget_auth_states()
    assert (await client.get("/v1/users/profile", headers=token)).status == 200  # limits
    refused = await client.get("/v1/users/profile", headers=token)  # the script again
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_the_user_is_counted_when_the_cached_auth_state_is_gone(profile, make_client):
    client = await make_client(settings_from(profile, **limits(per_user="2/minute")))
    token = bearer((await login(client, "erin"))["token"])
    cache = client.server.app[cache_key]
    statuses = []
    for _ in range(3):
        if keys := [key async for key in cache.client.scan_iter(match=cache.key("auth", "*"))]:
            await cache.client.delete(*keys)
        statuses.append((await client.get("/v1/users/profile", headers=token)).status)
    assert statuses == [200, 200, 429]


async def test_exempt_paths_and_the_off_switch(profile, make_client):
    client = await make_client(settings_from(profile, **limits(per_ip="1/minute")))
    assert {(await client.get("/healthz")).status for _ in range(5)} == {200}
    off = await make_client(settings_from(profile, ratelimit={"enabled": False, "per_ip": "1/minute"}))
    assert {(await off.get("/v1/users/profile")).status for _ in range(5)} == {401}


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_two_app_instances_share_the_counters_through_redis(profile, make_client):
    settings = settings_from(profile, **limits(routes={"GET /v1/users/settings": {"per_ip": "4/minute"}}))
    first, second = await make_client(settings), await make_client(settings)
    assert first.server.app is not second.server.app
    seen = [(await client.get("/v1/users/settings")).status for client in (first, second, first, second)]
    assert seen == [401, 401, 401, 401]
    assert (await first.get("/v1/users/settings")).status == 429
    assert (await second.get("/v1/users/settings")).status == 429


async def test_none_lifts_a_default_and_an_override(profile, make_client):
    routes = {"GET /v1/users/settings": {"per_ip": "1/minute"}, "GET /v1/users/profile": {"per_ip": "none"}}
    client = await make_client(settings_from(profile, ratelimit={"per_ip": "1/minute", "routes": routes}))
    assert {(await client.get("/v1/users/profile")).status for _ in range(5)} == {401}
    assert [(await client.get("/v1/users/settings")).status for _ in range(2)] == [401, 429]
    unlimited = await make_client(settings_from(profile, ratelimit={"per_ip": "none", "per_user": "none"}))
    assert {(await unlimited.get("/v1/users/settings")).status for _ in range(5)} == {401}


async def test_unknown_paths_share_one_window_per_method(profile, make_client):
    """A scan of made-up paths is counted under one key per method (a route override names it
    "GET unmatched"), so it is refused like any client and cannot fill the store with a key per
    path; it counts against the IP's total like any request."""
    routes = {"GET unmatched": {"per_ip": "3/minute"}}
    client = await make_client(settings_from(profile, **limits(per_ip="5/minute", routes=routes)))
    assert [(await client.get(f"/v1/scan/{n}")).status for n in range(3)] == [404, 404, 404]
    refused = await client.get("/v1/scan/again")
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await client.post("/v1/scan/0")).status == 404  # another method: no window of its own
    assert (await client.get("/v1/users/settings")).status == 401  # the IP's fifth
    assert (await client.post("/v1/scan/1")).status == 429  # the IP's total
