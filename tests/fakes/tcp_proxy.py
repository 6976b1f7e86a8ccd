"""A fault-injecting TCP proxy for outage tests: the app talks to a real service through it, and
the test switches what the "service" looks like without touching the shared service itself.

Modes:
- ``pass``: bytes flow both ways.
- ``killed``: what a killed server looks like. Every open connection is reset and the port
  refuses new ones (the listening socket is closed).
- ``frozen``: what a SIGSTOPped server looks like. Connections are accepted (the kernel does that
  for a stopped process too) and nothing is forwarded either way; bytes wait, as they would in
  the stopped server's socket buffers. Back to ``pass`` (SIGCONT), the held bytes are delivered
  in order, then any close that happened meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal
from urllib.parse import urlsplit

Mode = Literal["pass", "killed", "frozen"]
CHUNK = 65536


class TcpProxy:
    """``async with TcpProxy("127.0.0.1", 6379) as proxy:`` then point the app at ``proxy.port``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.mode: Mode = "pass"
        self.accepted = 0  # connections accepted from clients, in any mode
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def to_url(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 0)

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    async def __aenter__(self) -> TcpProxy:
        await self._listen()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def set_mode(self, mode: Mode) -> None:
        if mode == self.mode:
            return
        previous, self.mode = self.mode, mode
        if mode == "frozen":
            self._flowing.clear()
            return
        if mode == "killed":
            self._flowing.clear()
            await self._stop_listening()
            self._reset_all()
            return
        if previous == "killed":
            await self._listen()
        self._flowing.set()

    async def close(self) -> None:
        await self._stop_listening()
        self._reset_all()
        self._flowing.set()  # wake held accepts and pumps: they find their sockets gone
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            await server.wait_closed()

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._writers.add(client_writer)
        try:
            await self._flowing.wait()  # frozen: held before the server "accepts"
            if client_writer.is_closing():  # reset while held (killed, or the proxy closed)
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            client_writer.transport.abort()
            self._writers.discard(client_writer)
            return
        self._writers.add(upstream_writer)
        self._spawn(self._pump(client_reader, upstream_writer, client_writer))
        self._spawn(self._pump(upstream_reader, client_writer, upstream_writer))

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                await self._flowing.wait()  # read just before a freeze: hold it
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for end in (writer, source):
                self._writers.discard(end)
                with contextlib.suppress(Exception):
                    end.close()
