"""Shared fixtures: the real services of the services profile, each test isolated in its own
database, Redis key prefix and queue-name prefix, all removed afterwards.

With CI=true a service that can't be reached fails the test, naming the service; elsewhere
the test is skipped with the same message, so a laptop without RabbitMQ still runs the rest.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import asyncpg
import pytest

from leftovers import RUN, leftovers
from support import (
    AMQP_URL,
    PG_URL,
    REDIS_URL,
    declared_queues,
    default_queues,
    require_service,
    settings_from,
    track_queues,
    unique_name,
)


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(PG_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def _url_of(name: str) -> str:
    return urlsplit(PG_URL)._replace(path=f"/{name}").geturl()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    require_service("PostgreSQL", PG_URL)
    name = unique_name(f"mengchong_test_{RUN}")
    await _admin(f'CREATE DATABASE "{name}"')
    yield _url_of(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database migrated once per run to the kernel's schema, the template of every app test's
    database: copying it takes a tenth of the time migrating an empty one does."""
    from mengchong.app import create_app
    from mengchong.keys import database_key

    require_service("PostgreSQL", PG_URL)
    name = unique_name(f"mengchong_test_{RUN}_template")

    async def create() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        await create_app(settings_from({"database": {"url": _url_of(name)}}))[database_key].migrate()

    with ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever the test's loop does
        thread.submit(asyncio.run, create()).result()
        yield name
        thread.submit(asyncio.run, _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')).result()


@pytest.fixture(scope="session")
def postgres_pool() -> Iterator[list[str]]:
    """Databases copied from the template and given back emptied by the tests that used them:
    creating and dropping one took 0.37 s a test, emptying one a small part of that."""
    pool: list[str] = []
    yield pool
    with ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever the test's loop does
        for name in pool:
            thread.submit(asyncio.run, _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')).result()


_OTHER_SESSIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tortoise_migrations'"
_SEQUENCES = (
    "SELECT sequence_name FROM information_schema.sequences "
    "WHERE sequence_schema = 'public' AND sequence_name NOT LIKE 'tortoise_migrations%'"
)


async def _emptied(name: str) -> bool:
    """Delete every row (but the migration records) and restart every sequence, so the next test
    finds the database as the template made it; False when that can't be done safely (someone
    is still connected), and the database is dropped instead."""
    try:
        connection = await asyncpg.connect(_url_of(name), timeout=5)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        if await connection.fetchval(_OTHER_SESSIONS):
            return False
        async with connection.transaction():
            await connection.execute("SET LOCAL lock_timeout = '2s'")
            await connection.execute("SET LOCAL session_replication_role = replica")  # no FK order
            for row in await connection.fetch(_TABLES):
                await connection.execute(f'DELETE FROM "{row["tablename"]}"')
            for row in await connection.fetch(_SEQUENCES):
                await connection.execute(f'ALTER SEQUENCE "{row["sequence_name"]}" RESTART')
        return True
    except asyncpg.PostgresError:
        return False
    finally:
        await connection.close()


@pytest.fixture
async def migrated_postgres_url(postgres_template: str, postgres_pool: list[str]) -> AsyncIterator[str]:
    """A PostgreSQL database of this test's own with the default plugins' schema, emptied for the
    next test afterwards (or dropped); the app's own migrate() adds any other plugin's tables."""
    if postgres_pool:
        name = postgres_pool.pop()
    else:
        name = unique_name(f"mengchong_test_{RUN}")
        await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield _url_of(name)
    if await _emptied(name):
        postgres_pool.append(name)
    else:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A SQLite file migrated once per run with the default plugins, copied by every embedded app
    test: migrating an empty file was two thirds of such a test's setup."""
    from mengchong.app import create_app
    from mengchong.keys import database_key

    path = tmp_path_factory.mktemp("sqlite-template") / "mengchong.sqlite3"

    async def create() -> None:
        await create_app(settings_from({"database": {"url": f"sqlite://{path}"}}))[database_key].migrate()

    with ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever the test's loop does
        thread.submit(asyncio.run, create()).result()
    return str(path)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite://{tmp_path}/mengchong.sqlite3"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def database_url(request, tmp_path) -> str:
    """Each relational contract test runs once on SQLite and once on PostgreSQL.

    A plain fixture on purpose: pytest-asyncio can't resolve async fixtures by name from
    inside a running loop."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/mengchong.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def redis_url() -> str:
    """The real Redis; the test's keys live under ``redis_prefix`` and are deleted afterwards."""
    require_service("Redis", REDIS_URL)
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    import redis.asyncio as aioredis

    prefix = f"test:{RUN}:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def amqp_url() -> str:
    require_service("RabbitMQ", AMQP_URL)
    return AMQP_URL


@pytest.fixture
def queue_prefix() -> str:
    """Queue names of this test start with it; queue adapters' tests delete them afterwards."""
    return f"test.{RUN}.{uuid.uuid4().hex[:12]}."


# The queue settings of every app on the services profile.
APP_QUEUE_SETTINGS = {"retry_base_seconds": 0.05, "max_attempts": 3}


@pytest.fixture
async def amqp_queues(amqp_url: str, queue_prefix: str) -> AsyncIterator[str]:
    """A queue prefix for an app under test; its queues are deleted from the broker afterwards."""
    yield queue_prefix
    from mengchong.config import QueueSettings
    from mengchong.storage.queue_amqp import RabbitQueue

    declared = declared_queues(queue_prefix)
    cleaner = RabbitQueue(QueueSettings(url=amqp_url, prefix=queue_prefix, **APP_QUEUE_SETTINGS))
    await cleaner.open()
    try:
        await cleaner.delete_queues(default_queues(), real_names=declared)
    finally:
        await cleaner.close()


# --- Apps on either runtime profile -------------------------------------------------------

EXAMPLE_PLUGIN_PATH = os.path.join(os.path.dirname(__file__), "example_plugin")


@pytest.fixture
def example_plugin_path(monkeypatch) -> str:
    """Put the example plugin (and its entry point metadata) on sys.path for this test."""
    import importlib

    monkeypatch.syspath_prepend(EXAMPLE_PLUGIN_PATH)
    importlib.invalidate_caches()
    return EXAMPLE_PLUGIN_PATH


@pytest.fixture(params=["embedded", pytest.param("services", marks=pytest.mark.services)])
def profile(request, tmp_path) -> dict:
    """Settings overrides for one runtime profile: zero services, or PostgreSQL+Redis+RabbitMQ."""
    base = {
        "app": {"env": "test"},
        "files": {"root": str(tmp_path / "files")},
        "server": {"access_log": False},
        "events": {"relay_interval_seconds": 0.05},
        "queue": dict(APP_QUEUE_SETTINGS),
    }
    if request.param == "embedded":
        database = tmp_path / "mengchong.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
        overrides = {"database": {"url": f"sqlite://{database}"}}
    else:
        overrides = {
            "database": {"url": request.getfixturevalue("migrated_postgres_url")},
            "cache": {
                "url": request.getfixturevalue("redis_url"),
                "prefix": request.getfixturevalue("redis_prefix"),
            },
            "queue": {
                "url": request.getfixturevalue("amqp_url"),
                "prefix": request.getfixturevalue("amqp_queues"),
                **APP_QUEUE_SETTINGS,
            },
        }
    from mengchong.config_loading import deep_merge

    merged = deep_merge(base, overrides)
    merged["profile"] = request.param
    return merged


@pytest.fixture
async def make_client(aiohttp_client):
    """``await make_client(settings, plugins, clock=...)``: migrate, start the app, return a test
    client; its queues on RabbitMQ are deleted after the test."""
    from aiohttp.test_utils import TestServer

    from mengchong.app import create_app
    from mengchong.keys import database_key
    from mengchong.server import LINGER_SECONDS

    async def make(settings, plugins=(), **options):
        app = create_app(settings, plugins, **options)
        track_queues(app)
        await app[database_key].migrate()
        server = TestServer(app)  # started here: TestServer drops the runner arguments it is given
        await server.start_server(lingering_time=LINGER_SECONDS)  # as `mengchong serve` sets it
        return await aiohttp_client(server)

    return make


# --- The run's closing line on the services profile ---------------------------------------

_services_outcomes: dict[str, int] = {}


def pytest_runtest_logreport(report) -> None:
    counted = report.when == "call" or (report.when == "setup" and report.outcome != "passed")
    if counted and "services" in report.keywords:
        _services_outcomes[report.outcome] = _services_outcomes.get(report.outcome, 0) + 1


_left: list[str] = []


def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the run if any database, Redis key or queue with this run's prefix is left behind."""
    if _services_outcomes:
        _left.extend(leftovers())
        if _left and session.exitstatus == 0:
            session.exitstatus = 1


def pytest_terminal_summary(terminalreporter) -> None:
    if _left:
        terminalreporter.write_sep("!", f"left behind by this run ({RUN}): " + "; ".join(_left), red=True)
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_services_outcomes.items())) or "none ran"
    terminalreporter.write_sep(
        "-", f"services profile (PostgreSQL {PG_URL}, Redis {REDIS_URL}, RabbitMQ {AMQP_URL}): {counts}"
    )
