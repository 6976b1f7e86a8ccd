"""What a test run leaves on the shared services: every database, Redis key and queue a test
makes is named after :data:`RUN`, this run's id, so that at the end of the session
:func:`leftovers` can list what was not cleaned up (conftest fails the run on any), and two runs
on one machine never touch each other's data."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import redis

from support import PG_URL, REDIS_URL

RUN = uuid.uuid4().hex[:8]


async def _databases() -> list[str]:
    connection = await asyncpg.connect(PG_URL, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", f"mengchong_test_{RUN}_"
        )
    finally:
        await connection.close()
    return [f"database {row['datname']}" for row in rows]


def _databases_now() -> list[str]:
    """:func:`_databases` from synchronous code, inside a running event loop or not."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _databases()).result()


def _redis_keys() -> list[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"test:{RUN}:*", count=1000))
    finally:
        client.close()
    return [f"{len(keys)} Redis keys, e.g. {keys[0].decode()}"] if keys else []


def _queues() -> list[str]:
    """Queues by name, from the broker's own CLI (the AMQP protocol can't list them); on a machine
    without ``rabbitmqctl`` (a broker elsewhere) this check is skipped."""
    if shutil.which("rabbitmqctl") is None:
        return []
    listed = subprocess.run(
        ["rabbitmqctl", "list_queues", "name", "--quiet", "--no-table-headers"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    names = [name for name in listed.stdout.split() if name.startswith(f"test.{RUN}.")]
    return [f"{len(names)} queues, e.g. {names[0]}"] if names else []


def leftovers() -> list[str]:
    """What this run left behind; a service that can't be reached is not checked (its tests
    already failed or were skipped, saying so)."""
    found: list[str] = []
    for check in (_databases_now, _redis_keys, _queues):
        try:
            found.extend(check())
        except (OSError, asyncpg.PostgresError, redis.RedisError, subprocess.TimeoutExpired):
            continue
    return found
