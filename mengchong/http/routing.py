"""What names a route in metrics, rate limits and logs: its template, never the raw path."""

from __future__ import annotations

from aiohttp import web


def route_label(request: web.Request) -> str:
    """The route template (``/v1/pets/{pet_id}``), so metrics don't explode per id."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def route_key(request: web.Request) -> str:
    """``"GET /v1/pets/{pet_id}"``: every unknown path shares one key, so scans can't flood storage."""
    return f"{request.method} {route_label(request)}"
