"""The access log: one JSON line per request, in the same shape as every other log line
(``mengchong.logs``), written in batches.

It does not go through :mod:`logging`: a record, its handler lock and its formatter cost more
than the whole request pipeline of a health check. Lines collect in memory and go to stderr
when ``flush_lines`` have gathered, every ``flush_seconds`` and at shutdown, so a process killed
with SIGKILL loses at most that much of its access log. The line is written only while the
``mengchong.access`` logger is enabled for INFO, so ``app.log_level = "WARNING"`` silences it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

from aiohttp import web
from orjson import dumps

LOGGER = "mengchong.access"
_LINE = (
    '{"ts":"%s.%03dZ","level":"INFO","logger":"' + LOGGER + '","message":"%s %s %d",'
    '"request_id":"%s","method":"%s","path":%s,"status":%d,"ms":%.2f,"remote":%s}\n'
)
_logger = logging.getLogger(LOGGER)


Entry = tuple[float, str, str, str, int, float, "str | None"]


class AccessLog:
    """Buffered JSON access lines; :meth:`cleanup_ctx` runs the flush timer and the last flush.

    A request only appends a tuple; the lines are formatted when they are flushed."""

    def __init__(
        self, *, flush_seconds: float = 0.25, flush_lines: int = 1000, stream: TextIO | None = None
    ) -> None:
        self.flush_seconds = flush_seconds
        self.flush_lines = flush_lines
        self._stream = stream
        self._entries: list[Entry] = []
        self._second = -1
        self._second_text = ""

    def record(
        self, request_id: str, method: str, path: str, status: int, seconds: float, remote: str | None
    ) -> None:
        if not _logger.isEnabledFor(logging.INFO):
            return
        self._entries.append((time.time(), request_id, method, path, status, seconds, remote))
        if len(self._entries) >= self.flush_lines:
            self.flush()

    def line(self, entry: Entry) -> str:
        """One JSON line, the same document ``JsonFormatter`` would write for it. Written with
        a template because it is the hot path of a busy server: the request id (checked
        against a narrow alphabet), the method (an HTTP token) and the client's IP address never need
        escaping."""
        now, request_id, method, path, status, seconds, remote = entry
        second, millisecond = divmod(int(now * 1000), 1000)
        if second != self._second:  # the date formatted once a second, not once a line
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        escaped = dumps(path).decode()
        return _LINE % (
            self._second_text,
            millisecond,
            method,
            escaped[1:-1],
            status,
            request_id,
            method,
            escaped,
            status,
            seconds * 1000,
            "null" if remote is None else f'"{remote}"',  # client_ip.client_ip: an IP address
        )

    def flush(self) -> None:
        if not self._entries:
            return
        entries, self._entries = self._entries, []
        text = "".join(map(self.line, entries))
        stream = self._stream or sys.stderr  # looked up late: tests and daemons replace stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # a closed or full stream must not fail requests
            pass

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        async def flush_regularly() -> None:
            while True:
                await asyncio.sleep(self.flush_seconds)
                self.flush()

        timer = asyncio.create_task(flush_regularly(), name="access-log-flush")
        yield
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        self.flush()
