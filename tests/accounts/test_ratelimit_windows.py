"""Which windows a request is counted in: ``per_ip`` and ``per_user`` are totals across routes, a
route's own rate is a window beside the total, ``"none"`` takes a route out of a side's limits,
and a request is counted in every window or in none, so a refusal by one limit spends nothing
of another (one user flooding from behind a NAT does not lock out the others there)."""

from __future__ import annotations

import pytest
from limits import parse

from mengchong.http.ratelimit import redis_key_parts
from mengchong.keys import cache_key
from support import bearer, login, settings_from


def limits(profile, **ratelimit) -> object:
    return settings_from(profile, ratelimit={"per_ip": "1000/minute", "per_user": "1000/minute", **ratelimit})


async def get(client, path: str, token: dict | None = None) -> int:
    return (await client.get(path, headers=token or {})).status


async def forget_auth_states(client) -> None:
    """Drop every cached auth state, so the next request takes the cache-miss path."""
    cache = client.server.app[cache_key]
    if keys := [key async for key in cache.client.scan_iter(match=cache.key("auth", "*"))]:
        await cache.client.delete(*keys)


async def test_a_user_flooding_its_own_limit_leaves_the_ip_budget_to_others(profile, make_client):
    client = await make_client(limits(profile, per_ip="5/minute", per_user="2/minute", routes={}))
    alice = bearer((await login(client, "nat-alice"))["token"])  # the IP's first
    bob = bearer((await login(client, "nat-bob"))["token"])  # and second
    assert [await get(client, "/v1/users/profile", alice) for _ in range(2)] == [200, 200]
    assert {await get(client, "/v1/users/profile", alice) for _ in range(10)} == {429}
    assert await get(client, "/v1/users/profile", bob) == 200  # the IP's fifth
    assert await get(client, "/v1/users/settings", bob) == 429  # the IP's total is spent


async def test_on_the_cache_miss_path_too(profile, make_client):
    client = await make_client(limits(profile, per_ip="5/minute", per_user="2/minute", routes={}))
    alice = bearer((await login(client, "miss-alice"))["token"])
    bob = bearer((await login(client, "miss-bob"))["token"])
    statuses = []
    for _ in range(8):
        await forget_auth_states(client)
        statuses.append(await get(client, "/v1/users/profile", alice))
    assert statuses == [200, 200] + [429] * 6
    await forget_auth_states(client)
    assert await get(client, "/v1/users/profile", bob) == 200
    assert await get(client, "/v1/users/profile", bob) == 429  # the IP's sixth


async def test_a_request_refused_by_its_ip_does_not_spend_the_users_budget(profile, make_client):
    routes = {"GET /v1/users/settings": {"per_ip": "2/minute"}}
    client = await make_client(limits(profile, per_user="4/minute", routes=routes))
    carol = bearer((await login(client, "carol"))["token"])
    assert [await get(client, "/v1/users/settings", carol) for _ in range(2)] == [200, 200]
    assert {await get(client, "/v1/users/settings", carol) for _ in range(10)} == {429}
    assert [await get(client, "/v1/users/profile", carol) for _ in range(3)] == [200, 200, 429]


async def test_a_request_refused_by_a_routes_window_does_not_spend_the_total(profile, make_client):
    routes = {"GET /v1/users/settings": {"per_ip": "1/minute"}}
    client = await make_client(limits(profile, per_ip="3/minute", routes=routes))
    assert [await get(client, "/v1/users/settings") for _ in range(6)] == [401] + [429] * 5
    assert [await get(client, "/v1/users/profile") for _ in range(3)] == [401, 401, 429]


async def test_one_budget_per_user_across_routes(profile, make_client):
    client = await make_client(limits(profile, per_user="3/minute", routes={}))
    dave = bearer((await login(client, "dave"))["token"])
    seen = [await get(client, path, dave) for path in ["/v1/users/profile", "/v1/users/settings"] * 2]
    assert seen == [200, 200, 200, 429]


async def test_one_budget_per_ip_across_routes(profile, make_client):
    client = await make_client(limits(profile, per_ip="3/minute", routes={}))
    seen = [await get(client, path) for path in ["/v1/users/profile", "/v1/users/settings"] * 2]
    assert seen == [401, 401, 401, 429]


async def test_a_routes_rate_is_a_window_of_its_own_beside_the_total(profile, make_client):
    routes = {"GET /v1/users/settings": {"per_user": "1/minute"}}
    client = await make_client(limits(profile, per_user="3/hour", routes=routes))
    erin = bearer((await login(client, "erin"))["token"])
    assert await get(client, "/v1/users/settings", erin) == 200
    by_route = await client.get("/v1/users/settings", headers=erin)
    assert by_route.status == 429
    assert 1 <= int(by_route.headers["Retry-After"]) <= 60  # the route's minute
    assert [await get(client, "/v1/users/profile", erin) for _ in range(2)] == [200, 200]
    by_total = await client.get("/v1/users/profile", headers=erin)
    assert by_total.status == 429
    assert 60 < int(by_total.headers["Retry-After"]) <= 3600  # the total's hour


async def test_none_takes_a_route_out_of_the_total(profile, make_client):
    routes = {"GET /v1/users/profile": {"per_user": "none"}}
    client = await make_client(limits(profile, per_user="2/minute", routes=routes))
    frank = bearer((await login(client, "frank"))["token"])
    assert {await get(client, "/v1/users/profile", frank) for _ in range(5)} == {200}
    assert [await get(client, "/v1/users/settings", frank) for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("rate", ["300/minute", "30/minute", "3/hour", "5 per 2 seconds", "1/day"])
@pytest.mark.parametrize(
    "identifiers",
    [("ip", "203.0.113.7"), ("ip", "2001:db8::1", "POST /v1/auth/wechat_login"), ("user", "42")],
)
def test_the_scripts_window_keys_are_the_ones_limits_names(rate, identifiers):
    """The script names a window from parts split once; ``limits`` names it with ``key_for``
    inside its RedisStorage prefix and braces: the two must be one key."""
    item = parse(rate)
    head, tail = redis_key_parts("test:ratelimit", item)
    assert head + "/".join(identifiers) + tail == f"test:ratelimit:{{{item.key_for(*identifiers)}}}"
