"""The base of the URLs the API hands out (``mengchong.http.urls``): ``app.public_url`` when set,
else the request's own scheme and host, forwarded ones only from a trusted proxy, and never a
value that is not one plain scheme or ``host[:port]``. Served end to end in
``tests/plugins/pets/test_photo_links.py``."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from mengchong.config import ConfigError, Settings
from mengchong.config_loading import build_settings
from mengchong.http.urls import absolute_url, public_base_url, valid_authority
from mengchong.keys import settings_key


class Transport:
    """Just what the URL code asks a transport: the address the connection came in on."""

    def __init__(self, sockname: Any) -> None:
        self.sockname = sockname

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sockname if name == "sockname" else default

    def is_closing(self) -> bool:
        return False


def request(
    headers: list[tuple[str, str]],
    sockname: Any = ("10.0.0.5", 9000),
    sslcontext: ssl.SSLContext | None = None,
    **settings: Any,
) -> web.Request:
    app = web.Application()
    app[settings_key] = build_settings(settings, "tests")
    return make_mocked_request(
        "GET", "/v1/x", CIMultiDict(headers), app=app, transport=Transport(sockname), sslcontext=sslcontext
    )


@pytest.mark.parametrize(
    "value",
    [
        "example.com",
        "example.com:443",
        "127.0.0.1:8080",
        "localhost",
        "my_service:8000",
        "[::1]",
        "[2001:db8::1]:65535",
        "a" * 63 + ".example",
    ],
)
def test_plain_hosts_are_valid(value: str) -> None:
    assert valid_authority(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a b",
        "a.example.com, b.example.com",
        "a.example.com,b.example.com",
        "evil.example/x",
        "evil.example?x",
        "evil.example#x",
        "user@evil.example",
        "x:0",
        "x:65536",
        "x:99999",
        "x:",
        "x:80:81",
        "x:+80",
        "[::zz]",
        "[::1",
        "::1",
        "-bad.example",
        "bad-.example",
        "a..example",
        "a" * 64 + ".example",
        "a." * 127 + "aa",
        "ho\tst",
        "höst.example",
    ],
)
def test_anything_else_is_not(value: str) -> None:
    assert not valid_authority(value)


def test_the_request_names_the_base() -> None:
    assert public_base_url(request([("Host", "api.example.com:8443")])) == "http://api.example.com:8443"
    secure = request([("Host", "api.example.com")], sslcontext=ssl.create_default_context())
    assert public_base_url(secure) == "https://api.example.com"


def test_without_a_usable_host_the_address_the_connection_came_in_on() -> None:
    assert public_base_url(request([])) == "http://10.0.0.5:9000"
    assert public_base_url(request([("Host", "a b")])) == "http://10.0.0.5:9000"
    assert public_base_url(request([("Host", "a"), ("Host", "b")])) == "http://10.0.0.5:9000"
    assert public_base_url(request([], sockname=("::1", 9000, 0, 0))) == "http://[::1]:9000"
    # A Unix socket, or no address at all: the configured host and port.
    configured = {"server": {"host": "192.0.2.7", "port": 8181}}
    assert (
        public_base_url(request([], sockname="/run/mengchong.sock", **configured)) == "http://192.0.2.7:8181"
    )
    assert public_base_url(request([], sockname=None, **configured)) == "http://192.0.2.7:8181"


FORWARDED = [
    ("Host", "internal:8080"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "pets.example.com"),
]


@pytest.mark.parametrize(
    ("settings", "base"),
    [
        ({}, "http://internal:8080"),
        ({"server": {"trust_proxy": True}}, "https://pets.example.com"),
        ({"ratelimit": {"trust_forwarded_for": True}}, "https://pets.example.com"),
        ({"app": {"public_url": "https://cdn.example.com/api/"}}, "https://cdn.example.com/api"),
        (
            {"app": {"public_url": "https://cdn.example.com"}, "server": {"trust_proxy": True}},
            "https://cdn.example.com",
        ),
    ],
)
def test_forwarded_values_only_when_trusted_and_a_public_url_wins(settings: dict, base: str) -> None:
    assert public_base_url(request(FORWARDED, **settings)) == base


@pytest.mark.parametrize(
    ("forwarded", "base"),
    [
        (
            [("X-Forwarded-Proto", "https, http"), ("X-Forwarded-Host", "a.example, b.example")],
            "http://internal:8080",
        ),
        (
            [("X-Forwarded-Proto", "HTTPS"), ("X-Forwarded-Host", " pets.example.com ")],
            "https://pets.example.com",
        ),
        ([("X-Forwarded-Proto", "ftp"), ("X-Forwarded-Host", "pets.example.com:0")], "http://internal:8080"),
        ([("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "https")], "http://internal:8080"),
        ([("X-Forwarded-Host", "a.example"), ("X-Forwarded-Host", "a.example")], "http://internal:8080"),
        ([("X-Forwarded-Host", "[::1]:8443")], "http://[::1]:8443"),
    ],
)
def test_malformed_forwarded_values_fall_back_one_by_one(forwarded: list, base: str) -> None:
    trusted = {"server": {"trust_proxy": True}}
    assert public_base_url(request([("Host", "internal:8080"), *forwarded], **trusted)) == base


def test_the_base_is_built_once_per_request() -> None:
    one = request([("Host", "a.example")])
    assert public_base_url(one) == "http://a.example"
    assert public_base_url(one) is public_base_url(one)  # kept on the request, not built again


def test_absolute_urls() -> None:
    one = request([("Host", "a.example:81")])
    assert absolute_url(one, "/v1/pets/photos/x?sig=1") == "http://a.example:81/v1/pets/photos/x?sig=1"
    with pytest.raises(ValueError, match="must start with '/'"):
        absolute_url(one, "v1/pets")


@pytest.mark.parametrize(
    "value", ["ftp://example.com", "example.com", "https://", "https://example.com/?a=1", "https://x/#f"]
)
def test_a_public_url_must_be_a_plain_http_url(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^app\.public_url: "):
        build_settings({"app": {"public_url": value}}, "tests")
    assert Settings().app.public_url == ""
