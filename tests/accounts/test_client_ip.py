"""The client IP behind proxies: counted from the right of X-Forwarded-For, so the hops a client
writes itself never choose its address, and the same address in rate limits, the access log and
the login record."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp.test_utils import make_mocked_request

from mengchong.accounts.models import UserLoginLog
from mengchong.config import RateLimitSettings
from mengchong.http.access_log import LOGGER
from mengchong.http.client_ip import client_ip
from mengchong.keys import database_key
from support import settings_from

PEER = "192.0.2.1"


def ip_of(*forwarded_for: str, hops: int = 1, trust: bool = True) -> str:
    headers = [("X-Forwarded-For", value) for value in forwarded_for]
    request = make_mocked_request("GET", "/", headers=headers).clone(remote=PEER)
    return client_ip(request, RateLimitSettings(trust_forwarded_for=trust, trusted_proxy_hops=hops))


@pytest.mark.parametrize(
    ("forwarded_for", "hops", "expected"),
    [
        (("203.0.113.7, 10.0.0.9",), 1, "10.0.0.9"),  # the first hop is the client's word
        (("10.0.0.9",), 1, "10.0.0.9"),
        (("203.0.113.7, 198.51.100.4, 10.0.0.1",), 2, "198.51.100.4"),
        (("198.51.100.4, 10.0.0.1",), 2, "198.51.100.4"),
        (("10.0.0.1",), 2, PEER),  # fewer hops than proxies: the socket peer
        (("203.0.113.7", "10.0.0.9"), 1, "10.0.0.9"),  # a proxy that adds its own header line
        (("203.0.113.7, 2001:DB8::0:1",), 1, "2001:db8::1"),  # one spelling per address
        ((), 1, PEER),
        (("",), 1, PEER),
        ((" , ,",), 1, PEER),
        (("10.0.0.9,",), 1, PEER),  # an empty last hop is no address
        (("10.0.0.9, garbage",), 1, PEER),
        (("10.0.0.9, 999.1.1.1",), 1, PEER),
        (("10.0.0.9, 10.0.0.9:8080",), 1, PEER),
        (("10.0.0.9, " + "1" * 5000,), 1, PEER),
        (("1.2.3.4, " * 2000 + "10.0.0.9",), 1, "10.0.0.9"),
        (("10.0.0.9, \x00",), 1, PEER),
    ],
)
def test_the_client_ip_is_counted_from_the_right(forwarded_for, hops, expected):
    assert ip_of(*forwarded_for, hops=hops) == expected


def test_the_header_is_ignored_unless_trusted():
    assert ip_of("10.0.0.9", trust=False) == PEER


def trusted(profile, **ratelimit) -> dict:
    return settings_from(
        profile, ratelimit={"per_user": "1000/minute", "trust_forwarded_for": True, **ratelimit}
    )


async def test_spoofed_first_hops_share_the_proxys_client_window(profile, make_client):
    client = await make_client(trusted(profile, per_ip="3/minute"))
    statuses = [
        (
            await client.get("/v1/users/settings", headers={"X-Forwarded-For": f"203.0.113.{n}, 10.0.0.9"})
        ).status
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    other = {"X-Forwarded-For": "203.0.113.1, 10.0.0.10"}
    assert (await client.get("/v1/users/settings", headers=other)).status == 401  # another client


async def test_logins_with_spoofed_first_hops_are_refused_by_the_login_limit(profile, make_client):
    routes = {"POST /v1/auth/wechat_login": {"per_ip": "3/minute"}}
    client = await make_client(trusted(profile, per_ip="1000/minute", routes=routes))
    statuses = []
    for n in range(5):
        response = await client.post(
            "/v1/auth/wechat_login",
            json={"code": f"spoof{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n}, 10.0.0.9"},
        )
        statuses.append(response.status)
    assert statuses == [200, 200, 200, 429, 429]


async def test_with_two_trusted_hops_the_third_from_the_right_is_ignored(profile, make_client):
    client = await make_client(trusted(profile, per_ip="2/minute", trusted_proxy_hops=2))

    async def status(forwarded_for: str) -> int:
        return (await client.get("/v1/users/settings", headers={"X-Forwarded-For": forwarded_for})).status

    assert await status("203.0.113.1, 198.51.100.4, 10.0.0.1") == 401
    assert await status("203.0.113.2, 198.51.100.4, 10.0.0.2") == 401
    assert await status("203.0.113.3, 198.51.100.4, 10.0.0.3") == 429
    assert await status("203.0.113.3, 198.51.100.5, 10.0.0.1") == 401  # another client


async def test_malformed_headers_fall_back_to_the_socket_peer(profile, make_client):
    client = await make_client(trusted(profile, per_ip="4/minute"))
    garbage = ["", " , ,", "10.0.0.9, garbage", "10.0.0.9, " + "9" * 4000, "10.0.0.9,", "::1::1"]
    statuses = [
        (await client.get("/v1/users/settings", headers={"X-Forwarded-For": value})).status
        for value in garbage
    ]
    assert statuses == [401, 401, 401, 401, 429, 429]  # one window: the socket peer's
    assert (await client.get("/v1/users/settings")).status == 429
    assert (await client.get("/v1/users/settings", headers={"X-Forwarded-For": "10.0.0.9"})).status == 401


@pytest.fixture
def access_log_on():
    logger = logging.getLogger(LOGGER)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(previous)


async def test_the_access_log_and_the_login_record_name_the_client_ip(
    profile, make_client, access_log_on, capsys
):
    settings = settings_from(
        profile, server={"access_log": True}, ratelimit={"trust_forwarded_for": True, "routes": {}}
    )
    client = await make_client(settings)
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.23"}
    response = await client.post("/v1/auth/wechat_login", json={"code": "logged"}, headers=forwarded)
    assert response.status == 200
    request_id = response.headers["X-Request-ID"]
    with client.server.app[database_key].activate():
        assert await UserLoginLog.filter(user__openid="mock-logged").values_list("ip", flat=True) == [
            "198.51.100.23"
        ]
    await client.close()  # the access log's last flush
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if LOGGER in line]
    assert [line["remote"] for line in lines if line["request_id"] == request_id] == ["198.51.100.23"]
