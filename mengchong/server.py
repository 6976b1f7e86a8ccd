"""Running the app: uvloop when installed, graceful shutdown on SIGTERM/SIGINT (in-flight
requests finish within ``server.shutdown_timeout``, then tasks stop and storage closes), idle
connections and slow request heads closed after ``server.idle_timeout_seconds``, and requests
that aiohttp's own HTTP parser refuses (a header over 8,190 bytes, NUL in a header, an unknown
method, ``Transfer-Encoding`` with ``Content-Length``) answered in the envelope with an
``X-Request-ID`` and logged as one WARNING line, never echoed back or logged with a traceback.

aiohttp has no option for the last: its connection handler answers parser errors itself, before
any application code runs. So the server runs through :class:`EnvelopeRunner`, whose connection
handler is :class:`EnvelopeRequestHandler`; ``web.run_app`` can't be told to use either, hence
:func:`run`, which does what it did for us.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import GracefulExit

from mengchong.app import create_app
from mengchong.config import Settings
from mengchong.http.envelope import error_response
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.pipeline import new_request_id

log = logging.getLogger("mengchong.server")
http_log = logging.getLogger("mengchong.http")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def parser_error_response(remote: str | None, status: int, exc: BaseException | None) -> web.Response:
    """The envelope for a request aiohttp could not parse (or, never expected, an error that got
    past the request pipeline: that one is logged with its traceback)."""
    request_id = new_request_id("")
    if status >= 500:
        http_log.error("unhandled error from %s", remote, exc_info=exc, extra={"request_id": request_id})
        error = ApiError(ErrorCode.INTERNAL, "Internal server error")
    else:
        reason = type(exc).__name__ if exc is not None else "unknown"
        http_log.warning(
            "malformed HTTP request from %s: %s (%s)",
            remote,
            reason,
            status,
            extra={"request_id": request_id, "status": status},
        )
        too_large = status == 413 or (isinstance(exc, HttpProcessingError) and exc.code == 413)
        if too_large:
            error = ApiError(ErrorCode.PAYLOAD_TOO_LARGE, "The request is too large")
        else:
            error = ApiError(ErrorCode.BAD_REQUEST, "Malformed HTTP request", status=status)
    response = error_response(error)
    response.headers["X-Request-ID"] = request_id
    response.force_close()
    return response


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own parser's errors in the envelope."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response has begun, so drop the connection
            raise ConnectionError("Response is sent already, cannot send another response")
        return parser_error_response(request.remote, status, exc)


class EnvelopeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)


class EnvelopeRunner(web.AppRunner):
    """``web.AppRunner`` whose connections are handled by :class:`EnvelopeRequestHandler`."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The same server, made again as our subclass from what aiohttp configured it with.
        return EnvelopeServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )


LINGER_SECONDS = 2.0


async def run(app: web.Application, settings: Settings) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully."""
    server = settings.server
    runner = EnvelopeRunner(
        app,
        handle_signals=True,
        access_log=None,
        shutdown_timeout=server.shutdown_timeout,
        keepalive_timeout=server.idle_timeout_seconds,
        # After answering a request whose body did not all arrive (408, 413), aiohttp reads on
        # for this long so that a client still sending sees the answer; 10 s by default, which
        # kept a stalled client's connection for 10 s after its 408.
        lingering_time=LINGER_SECONDS,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, server.host, server.port).start()
        # Everything the start made (modules, settings, routes, pools) lives as long as the
        # process: frozen out of the collector, a full collection no longer walks it. Without
        # this, a full collection paused the loop for ~25 ms a few times a run: the product
        # list's p99 went from 33 ms to 8 ms with it. Done once listening, as the collection
        # itself takes ~50 ms the first request need not wait for. The collector was paused for
        # the start (mengchong.launch): it runs from here on.
        gc.collect()
        gc.freeze()
        gc.enable()
        await asyncio.Event().wait()  # until a signal raises GracefulExit
    finally:
        await runner.cleanup()


def serve(settings: Settings) -> None:
    app = create_app(settings)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    log.info(
        "starting on http://%s:%s (%s, config: %s)",
        settings.server.host,
        settings.server.port,
        type(loop).__module__.split(".")[0],
        settings.source,
        extra={"env": settings.app.env},
    )
    main = loop.create_task(run(app, settings))
    try:
        loop.run_until_complete(main)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError, GracefulExit):
                loop.run_until_complete(main)
        others = asyncio.all_tasks(loop)
        for task in others:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*others, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
