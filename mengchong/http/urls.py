"""Absolute URLs the API hands out (photo links and the like).

They are built under ``app.public_url`` when it is set. When it is empty (the default), under
the scheme, host and port the request came to, so that a server on any port, or reached by any
name, hands out links that work there. Behind a reverse proxy those are the proxy's to say:
``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are read only when ``server.trust_proxy`` or
``ratelimit.trust_forwarded_for`` says a proxy we trust sets them (anyone else could send them).

Every value is checked before it goes into a URL: a scheme must be ``http`` or ``https``, a host
one name, IPv4 or bracketed IPv6 address with an optional port. Anything else (several
comma-separated values, spaces, a path, a port out of range, a repeated header) is ignored: a
forwarded value falls back to the request's own, a malformed ``Host`` to the address the
connection came in on.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from aiohttp import web

from mengchong.keys import PUBLIC_BASE_URL, settings_key

SCHEMES = frozenset({"http", "https"})
MAX_HOST_LENGTH = 255
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_AUTHORITY = re.compile(
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[(?P<ipv6>[0-9A-Fa-f:.]+)\])(?::(?P<port>[0-9]{{1,5}}))?"
)


def public_base_url(request: web.Request) -> str:
    """``scheme://host[:port]`` (or ``app.public_url``, without a trailing slash) that the
    URLs handed out in answer to ``request`` start with."""
    configured = request.app[settings_key].app.public_url
    if configured:
        return configured.rstrip("/")
    base: str | None = request.get(PUBLIC_BASE_URL)
    if base is None:
        base = request[PUBLIC_BASE_URL] = f"{request_scheme(request)}://{request_authority(request)}"
    return base


def absolute_url(request: web.Request, path: str) -> str:
    """``path`` (starting with ``/``, query included) as an absolute URL for this request's client."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    return public_base_url(request) + path


def trusts_proxy(request: web.Request) -> bool:
    settings = request.app[settings_key]
    return settings.server.trust_proxy or settings.ratelimit.trust_forwarded_for


def request_scheme(request: web.Request) -> str:
    """The scheme the client used: the trusted proxy's ``X-Forwarded-Proto``, else ours."""
    if trusts_proxy(request):
        forwarded = single_header(request, "X-Forwarded-Proto")
        if forwarded is not None and forwarded.lower() in SCHEMES:
            return forwarded.lower()
    return request.scheme


def request_authority(request: web.Request) -> str:
    """The ``host[:port]`` the client asked for: the trusted proxy's ``X-Forwarded-Host``, else
    the ``Host`` header, else the address and port the connection came in on."""
    if trusts_proxy(request):
        forwarded = single_header(request, "X-Forwarded-Host")
        if forwarded is not None and valid_authority(forwarded):
            return forwarded
    host = single_header(request, "Host")
    if host is not None and valid_authority(host):
        return host
    return local_authority(request)


def single_header(request: web.Request, name: str) -> str | None:
    """The header's one value, stripped; None when it is absent or sent more than once."""
    values = request.headers.getall(name, [])
    return values[0].strip() if len(values) == 1 else None


@functools.lru_cache(maxsize=256)  # a client sends the same Host on every request
def valid_authority(value: str) -> bool:
    """Whether ``value`` is one ``host[:port]``: a name, an IPv4 or a bracketed IPv6 address,
    and a port from 1 to 65535."""
    if len(value) > MAX_HOST_LENGTH:
        return False
    match = _AUTHORITY.fullmatch(value)
    if match is None:
        return False
    port = match["port"]
    if port is not None and not 0 < int(port) <= 65535:
        return False
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return False
    return True


def local_authority(request: web.Request) -> str:
    """The address and port the connection came in on (the configured ones if unknown)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = str(sockname[0]), int(sockname[1])
    else:
        server = request.app[settings_key].server
        host, port = server.host, server.port
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
