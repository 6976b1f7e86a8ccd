"""Reading a request body within ``server.body_timeout_seconds``: a client that stops sending
half-way gets 408 (40801) instead of holding a connection and a handler for as long as it likes.
Every reader of a body (the JSON parser, the multipart upload reader) reads inside
:func:`body_deadline`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from mengchong.http.errors import ApiError, ErrorCode
from mengchong.keys import deadlines_key, settings_key


@asynccontextmanager
async def body_deadline(request: web.Request) -> AsyncIterator[None]:
    """Run the block (reading the body, nothing else) within the configured body timeout. The
    request's own deadline (``server.request_timeout_seconds``) stops while the client sends,
    and starts again, whole, once the body is in: a slow upload is the client's time, not ours."""
    if request.content.is_eof():  # all of it arrived already (most JSON bodies): no timer needed
        yield
        return
    seconds = request.app[settings_key].server.body_timeout_seconds
    deadlines = request.app.get(deadlines_key)
    paused = deadlines is not None and deadlines.pause()
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise ApiError(  # what is still on its way would be read as the next request: close
            ErrorCode.REQUEST_TIMEOUT,
            f"The request body was not received within {seconds:g} s",
            headers={"Connection": "close"},
        ) from None
    finally:
        if paused and deadlines is not None:
            deadlines.resume()


async def read_body(request: web.Request) -> bytes:
    """The whole body (at most ``server.max_body_bytes``: 413 past it), within the body timeout."""
    async with body_deadline(request):
        return await request.read()
