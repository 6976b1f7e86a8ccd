"""The auth guard's admit path, on both profiles: each authenticated request counts its user
exactly once (from the cached state or after filling it), two users keep their own budgets,
and a token refused at any step (bad signature, unknown user) still counts against its IP."""

from __future__ import annotations

import pytest

from mengchong.accounts.guard import auth_state_key
from mengchong.keys import cache_key, tokens_key
from support import bearer, login, settings_from

PROFILE = "/v1/users/profile"


async def limited_client(profile, make_client, **ratelimit):
    limits = {"per_ip": "1000/minute", "per_user": "1000/minute", **ratelimit}
    return await make_client(settings_from(profile, ratelimit=limits))


@pytest.mark.parametrize("cached", [True, False], ids=["state cached", "state filled"])
async def test_each_request_counts_its_user_once(profile, make_client, cached):
    client = await limited_client(profile, make_client, per_user="3/minute")
    cache = client.server.app[cache_key]
    alice = await login(client, "alice")
    bob = bearer((await login(client, "bob"))["token"])
    seen = []
    for _ in range(4):
        if not cached:
            await cache.delete(auth_state_key(cache, int(alice["user_info"]["user_id"])))
        seen.append((await client.get(PROFILE, headers=bearer(alice["token"]))).status)
    assert seen == [200, 200, 200, 429]
    assert (await client.get(PROFILE, headers=bob)).status == 200  # a budget of its own


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"],
    ids=["malformed", "bad signature"],
)
async def test_a_token_refused_before_the_state_counts_against_its_ip(profile, make_client, token):
    routes = {"GET /v1/users/profile": {"per_ip": "3/minute"}}
    client = await limited_client(profile, make_client, routes=routes)
    headers = bearer(token)
    assert [(await client.get(PROFILE, headers=headers)).status for _ in range(4)] == [401, 401, 401, 429]


async def test_a_token_of_an_unknown_user_counts_against_its_ip(profile, make_client):
    routes = {"GET /v1/users/profile": {"per_ip": "3/minute"}}
    client = await limited_client(profile, make_client, routes=routes)
    alice = await login(client, "alice")
    unknown, _ = client.server.app[tokens_key].issue(int(alice["user_info"]["user_id"]) + 1000, 0)
    statuses = [(await client.get(PROFILE, headers=bearer(unknown))).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.parametrize("cached", [True, False], ids=["state cached", "state filled"])
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", PROFILE, 200), ("POST", "/v1/admin/users/999999/ban", 403)],
    ids=["authenticated", "admin only"],
)
async def test_a_user_refused_by_its_own_limit_spends_nothing_of_its_ip(
    profile, make_client, cached, method, path, allowed
):
    """The guard counts the client IP together with the user, both or neither: one user flooding
    from behind a NAT leaves the IP's budget to the others there."""
    client = await limited_client(profile, make_client, per_ip="5/minute", per_user="2/minute", routes={})
    cache = client.server.app[cache_key]
    alice = await login(client, "alice")  # the IP's first
    bob = bearer((await login(client, "bob"))["token"])  # and second
    seen = []
    for _ in range(6):
        if not cached:
            await cache.delete(auth_state_key(cache, int(alice["user_info"]["user_id"])))
        seen.append((await client.request(method, path, headers=bearer(alice["token"]))).status)
    assert seen == [allowed, allowed, 429, 429, 429, 429]
    assert (await client.get(PROFILE, headers=bob)).status == 200  # the IP's fifth
    assert (await client.get(PROFILE, headers=bob)).status == 429  # the IP's total is spent
