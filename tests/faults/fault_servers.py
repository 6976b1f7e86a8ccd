"""Real ``mengchong serve`` processes on the services profile for the fault tests: started with
one set of services (database, Redis prefix, queue prefix), their log written to a file (a pipe
would fill up and stall a busy server), stopped with SIGTERM, or killed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from served import free_port, stop, wait_until_serving
from support import clean_env

# As the amqp_queues fixture's cleaner names the retry queues it deletes (tests/conftest.py).
QUEUE_ENV = {"MENGCHONG__QUEUE__RETRY_BASE_SECONDS": "0.05", "MENGCHONG__QUEUE__MAX_ATTEMPTS": "3"}


@dataclass
class ServerProcess:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def services_env(
    database_url: str, redis_url: str, redis_prefix: str, amqp_url: str, queue_prefix: str
) -> dict[str, str]:
    """The MENGCHONG__ variables of a server on these services (its port and files come later)."""
    return {
        "MENGCHONG__DATABASE__URL": database_url,
        "MENGCHONG__CACHE__URL": redis_url,
        "MENGCHONG__CACHE__PREFIX": redis_prefix,
        "MENGCHONG__QUEUE__URL": amqp_url,
        "MENGCHONG__QUEUE__PREFIX": queue_prefix,
        "MENGCHONG__SERVER__ACCESS_LOG": "false",
        "MENGCHONG__EVENTS__RELAY_INTERVAL_SECONDS": "0.05",
        **QUEUE_ENV,
    }


@asynccontextmanager
async def server_process(tmp_path: Path, name: str, env: dict[str, str]) -> AsyncIterator[ServerProcess]:
    """``mengchong serve --migrate`` with ``env`` on a free port, files under ``tmp_path``; stopped
    with SIGTERM on leaving unless the test killed it."""
    port = free_port()
    log = tmp_path / f"{name}.log"
    variables = {
        "MENGCHONG__SERVER__PORT": str(port),
        "MENGCHONG__FILES__ROOT": str(tmp_path / "files"),
        **env,
    }
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "mengchong", "serve", "--migrate"],
            env=clean_env(**variables),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    server = ServerProcess(process, port, log)
    try:
        await wait_until_serving(f"{server.base}/healthz", process)
        yield server
    finally:
        stop(process)
