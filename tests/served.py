"""A real ``mengchong serve`` process for tests that need what only a server process has: the
HTTP parser's own errors, connection timeouts, signals, memory use."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from support import clean_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (a graceful shutdown), SIGKILL if it is not over in 30 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Served:
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        """The process's stderr, once it has stopped."""
        assert self.process.stderr is not None
        return self.process.stderr.read().splitlines()


@asynccontextmanager
async def served(tmp_path: Path, **env: str) -> AsyncIterator[Served]:
    """A server on a free port with a SQLite database in ``tmp_path`` (``env`` adds or overrides
    MENGCHONG__ variables), stopped with SIGTERM afterwards; its log stays readable."""
    port = free_port()
    variables = {
        "MENGCHONG__SERVER__PORT": str(port),
        "MENGCHONG__DATABASE__URL": f"sqlite://{tmp_path}/db.sqlite3",
        "MENGCHONG__FILES__ROOT": str(tmp_path / "files"),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mengchong", "serve", "--migrate"],
        env=clean_env(**variables),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Served(process, port)
    try:
        await wait_until_serving(f"{server.base}/healthz", process)
        yield server
    finally:
        stop(process)


async def exchange(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw bytes to the server and read until it closes the connection (or ``timeout``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
        return b"".join(chunks)
    finally:
        writer.close()
