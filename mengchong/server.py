"""Running the app: uvloop when installed, graceful shutdown on SIGTERM/SIGINT (in-flight
requests finish within ``server.shutdown_timeout``, then tasks stop and storage closes)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from mengchong.app import create_app
from mengchong.config import Settings

log = logging.getLogger("mengchong.server")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def serve(settings: Settings) -> None:
    app = create_app(settings)
    loop = new_event_loop()
    log.info(
        "starting on http://%s:%s (%s, config: %s)",
        settings.server.host,
        settings.server.port,
        type(loop).__module__.split(".")[0],
        settings.source,
        extra={"env": settings.app.env},
    )
    web.run_app(
        app,
        host=settings.server.host,
        port=settings.server.port,
        shutdown_timeout=settings.server.shutdown_timeout,
        access_log=None,
        print=None,
        loop=loop,
    )
