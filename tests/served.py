"""Real ``mengchong serve`` processes, for tests that need what only a server process has: the
HTTP parser's own errors, connection timeouts, signals, memory use, two processes on one set of
services, the contract fuzzer over real sockets. The one way the tests start one: on a free port,
its stderr in a log file (a pipe nobody reads would fill up and stall a busy server), stopped
with SIGTERM afterwards (SIGKILL if it does not stop) unless the test killed it."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from support import clean_env

START_SECONDS = 60.0  # only bounds a server that never comes up
STOP_SECONDS = 30.0
LOG_TAIL_LINES = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """One ``mengchong serve`` process; its stderr goes to ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def tail(self) -> str:
        lines = self.log_lines()[-LOG_TAIL_LINES:]
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"--- process {self.name} ({state}), last lines of {self.log}:\n" + "\n".join(lines)


def with_logs(what: object, *servers: ServerProcess) -> str:
    """An assertion's message: what was seen, then the end of each server's log."""
    return "\n".join([repr(what), *(server.tail() for server in servers)])


def start(tmp_path: Path, env: Mapping[str, str], *, name: str = "A", migrate: bool = True) -> ServerProcess:
    """``mengchong serve`` (``--migrate`` with ``migrate``) with only the MENGCHONG__ settings
    ``env``, from ``tmp_path`` (no ./config.toml there: the built-in defaults and env only), its
    log at ``tmp_path/server-NAME.log``. Not yet serving: see :func:`wait_until_serving`."""
    port, log = free_port(), tmp_path / f"server-{name}.log"
    command = [sys.executable, "-m", "mengchong", "serve", *(["--migrate"] if migrate else [])]
    with log.open("w") as stderr:  # the child has its own copy of the descriptor
        process = subprocess.Popen(
            command,
            env=clean_env(**env, MENGCHONG__SERVER__PORT=str(port)),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return ServerProcess(name, process, port, log)


async def wait_until_serving(*servers: ServerProcess) -> None:
    """Until each answers 200 on /healthz; an AssertionError with their logs if one exits first
    or is not up within START_SECONDS."""

    async def one(session: aiohttp.ClientSession, server: ServerProcess) -> None:
        while True:
            assert server.process.poll() is None, with_logs("the server process exited", server)
            try:
                async with session.get(f"{server.base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)

    try:
        async with asyncio.timeout(START_SECONDS), aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(session, server) for server in servers))
    except TimeoutError:
        raise AssertionError(with_logs(f"/healthz not 200 within {START_SECONDS} s", *servers)) from None


def stop(servers: Iterable[ServerProcess]) -> None:
    """SIGTERM to every process still running (a graceful shutdown), SIGKILL after STOP_SECONDS."""
    servers = list(servers)
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@asynccontextmanager
async def server_processes(
    tmp_path: Path, env: Mapping[str, str], names: str = "AB", *, migrate: bool = False
) -> AsyncIterator[list[ServerProcess]]:
    """A server process per letter of ``names``, all started at once with the settings ``env``,
    serving when this enters, stopped when it leaves."""
    started: list[ServerProcess] = []
    try:
        for name in names:
            started.append(start(tmp_path, env, name=name, migrate=migrate))
        await wait_until_serving(*started)
        yield started
    finally:
        stop(started)


@asynccontextmanager
async def served(tmp_path: Path, **env: str) -> AsyncIterator[ServerProcess]:
    """One server with a SQLite database in ``tmp_path`` (``env`` adds or overrides MENGCHONG__
    variables); its log stays readable after it stopped."""
    variables = {
        "MENGCHONG__DATABASE__URL": f"sqlite://{tmp_path}/db.sqlite3",
        "MENGCHONG__FILES__ROOT": str(tmp_path / "files"),
        **env,
    }
    async with server_processes(tmp_path, variables, "A", migrate=True) as (server,):
        yield server


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
