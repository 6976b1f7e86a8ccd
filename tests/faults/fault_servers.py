"""Real ``mengchong serve`` processes on the services profile for the fault tests: started
together with one set of services (database, Redis prefix, queue prefix), each on a port of its
own with its log written to a file (a pipe would fill up and stall a busy server), stopped with
SIGTERM afterwards unless the test killed them. Their queues are deleted by the ``amqp_queues``
fixture: :data:`QUEUE_ENV` gives them the names that fixture deletes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from served import free_port
from support import clean_env

START_SECONDS = 60.0  # only bounds a server that never comes up
STOP_SECONDS = 30.0
LOG_TAIL_LINES = 30
# Retries as the services profile's apps have them (conftest's APP_QUEUE_SETTINGS): the
# amqp_queues fixture deletes the servers' queues under the names these settings give them.
QUEUE_ENV = {"MENGCHONG__QUEUE__RETRY_BASE_SECONDS": "0.05", "MENGCHONG__QUEUE__MAX_ATTEMPTS": "3"}


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

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"--- process {self.name} ({state}), last lines of {self.log}:\n" + "\n".join(lines)


def with_logs(what: object, *servers: ServerProcess) -> str:
    """An assertion's message: what was seen, then the end of each server's log."""
    return "\n".join([repr(what), *(server.tail() for server in servers)])


def services_env(
    tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, amqp_url: str, queue_prefix: str
) -> dict[str, str]:
    """The MENGCHONG__ variables of servers sharing these services."""
    return {
        "MENGCHONG__APP__ENV": "test",
        "MENGCHONG__DATABASE__URL": database_url,
        "MENGCHONG__CACHE__URL": redis_url,
        "MENGCHONG__CACHE__PREFIX": redis_prefix,
        "MENGCHONG__QUEUE__URL": amqp_url,
        "MENGCHONG__QUEUE__PREFIX": queue_prefix,
        **QUEUE_ENV,
        "MENGCHONG__FILES__ROOT": str(tmp_path / "files"),
        "MENGCHONG__SERVER__ACCESS_LOG": "false",
        "MENGCHONG__EVENTS__RELAY_INTERVAL_SECONDS": "0.05",
    }


async def wait_until_serving(session: aiohttp.ClientSession, server: ServerProcess) -> None:
    try:
        async with asyncio.timeout(START_SECONDS):
            while True:
                assert server.process.poll() is None, with_logs("the server process exited", server)
                try:
                    async with session.get(f"{server.base}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(with_logs(f"/healthz not 200 within {START_SECONDS} s", server)) from None


def stop_all(servers: list[ServerProcess]) -> None:
    """SIGTERM to every process still running (a graceful shutdown), SIGKILL after STOP_SECONDS."""
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
    tmp_path: Path, env: dict[str, str], names: str = "AB", *, migrate: bool = False
) -> AsyncIterator[list[ServerProcess]]:
    """A server process per letter of ``names``, all started at once with the settings ``env``
    (``serve --migrate`` with ``migrate``: the fixtures' databases are migrated already)."""
    command = [sys.executable, "-m", "mengchong", "serve", *(["--migrate"] if migrate else [])]
    started: list[ServerProcess] = []
    with ExitStack() as logs:
        try:
            for name in names:
                port, log = free_port(), tmp_path / f"server-{name}.log"
                process = subprocess.Popen(
                    command,
                    env=clean_env(**env, MENGCHONG__SERVER__PORT=str(port)),
                    cwd=tmp_path,  # no ./config.toml: the built-in defaults and env only
                    stdout=subprocess.DEVNULL,
                    stderr=logs.enter_context(log.open("w")),
                )
                started.append(ServerProcess(name, process, port, log))
            async with aiohttp.ClientSession() as session:
                await asyncio.gather(*(wait_until_serving(session, server) for server in started))
            yield started
        finally:
            stop_all(started)
