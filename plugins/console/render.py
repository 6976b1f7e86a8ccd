"""Server-rendered pages: one Jinja2 environment over this package's templates, autoescaped, and
the headers every console page carries (no caching, no framing, nothing from other origins)."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("mengchong_plugins.console", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'",
}


def page(template: str, *, status: int = 200, **context: Any) -> web.Response:
    text = _PAGES.get_template(template).render(**context)
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def redirect(location: str) -> web.Response:
    """303 See Other: after a form's POST, the browser GETs ``location``."""
    return web.Response(status=303, headers={**HEADERS, "Location": location})
