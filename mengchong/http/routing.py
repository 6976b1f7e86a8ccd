"""What names a route in metrics, rate limits and logs: its template, never the raw path."""

from __future__ import annotations

from aiohttp import web

UNMATCHED = "unmatched"
"""The name of the catch-all route every unknown path and wrong method reaches, and the label
they all share (:mod:`mengchong.http.pipeline`)."""


def is_unmatched(resource: web.AbstractResource | None) -> bool:
    return resource is None or resource.name == UNMATCHED


def resource_label(resource: web.AbstractResource | None) -> str:
    """The route template (``/v1/pets/{pet_id}``), so metrics don't explode per id."""
    return UNMATCHED if is_unmatched(resource) else resource.canonical


def route_label(request: web.Request) -> str:
    return resource_label(request.match_info.route.resource)


def route_key(request: web.Request) -> str:
    """``"GET /v1/pets/{pet_id}"``: every unknown path shares one key, so scans can't flood storage."""
    return f"{request.method} {route_label(request)}"
