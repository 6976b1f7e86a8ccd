"""Who the client is: the socket peer, or the X-Forwarded-For hop a trusted proxy wrote, for the
rate limits, the access log and the login record alike."""

from __future__ import annotations

from ipaddress import ip_address

from aiohttp import web

from mengchong.config import RateLimitSettings
from mengchong.keys import FORWARDED_CLIENT_IP

LONGEST_HOP = 64  # an IPv6 address with a zone fits; anything longer is not an address


def client_ip(request: web.Request, settings: RateLimitSettings) -> str:
    """The client's IP address, for rate limits, logs and records alike. The socket peer; with
    ``trust_forwarded_for``, the X-Forwarded-For hop written by the outermost of the
    ``trusted_proxy_hops`` proxies that append to it, counted from the right: hops further left
    were written by the client. Fewer hops than that, or a hop that is no IP address, leaves the
    socket peer, so a client can never choose its address."""
    peer = request.remote or "unknown"
    if not settings.trust_forwarded_for:
        return peer
    # Asked by the limits, the access log and the login record: parse the header once a request.
    if (known := request.get(FORWARDED_CLIENT_IP)) is None:
        known = request[FORWARDED_CLIENT_IP] = forwarded_ip(request, settings.trusted_proxy_hops) or peer
    return known


def forwarded_ip(request: web.Request, hops: int) -> str | None:
    """The X-Forwarded-For hop ``hops`` places from the right, normalised; None when there is no
    such hop or it is no IP address."""
    values = request.headers.getall("X-Forwarded-For", ())
    # Several header lines are one list in order (RFC 9110 5.3): a proxy may add its own line.
    parts = ",".join(values).rsplit(",", hops)
    if len(parts) < hops:
        return None
    hop = parts[-hops].strip()
    if not hop or len(hop) > LONGEST_HOP:
        return None
    try:
        return str(ip_address(hop))
    except ValueError:
        return None
