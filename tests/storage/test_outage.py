"""Which backend an exception says is unavailable (:mod:`mengchong.storage.outage`): the drivers'
connection and timeout errors, through tortoise's wrappers and re-raises, and nothing else."""

from __future__ import annotations

import asyncio
import socket

import aiormq.exceptions
import asyncpg
import pymongo.errors
import pytest
import redis.asyncio as aioredis
import redis.exceptions
import tortoise.exceptions

from fakes.tcp_proxy import TcpProxy
from mengchong.app import KERNEL_MODELS
from mengchong.config import CacheSettings, QueueSettings
from mengchong.storage.cache import open_cache
from mengchong.storage.database import Database
from mengchong.storage.outage import backend_of, find_outage
from mengchong.storage.queue import QueueUnavailableError
from mengchong.storage.queue_amqp import RabbitQueue


def raised(exc: BaseException, cause: BaseException | None = None, *, context: bool = False) -> BaseException:
    """``exc`` as it comes out of ``raise exc from cause`` (or raised while handling ``cause``)."""
    try:
        try:
            if cause is not None:
                raise cause
        except BaseException as inner:
            if context:
                raise exc  # noqa: B904 - the point is the implicit context
            raise exc from inner
        raise exc
    except BaseException as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "backend"),
    [
        (redis.exceptions.ConnectionError("Connection refused"), "cache"),
        (redis.exceptions.TimeoutError("Timeout reading"), "cache"),
        (redis.exceptions.MaxConnectionsError("Too many connections"), "cache"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"), "database"),
        (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), "database"),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "database"),
        (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"), "database"),
        (asyncpg.exceptions.TooManyConnectionsError("too many clients"), "database"),
        (asyncpg.exceptions.InterfaceError("connection is closed"), "database"),
        (tortoise.exceptions.DBConnectionError("Can't establish connection"), "database"),
        (pymongo.errors.AutoReconnect("primary stepped down"), "documents"),
        (pymongo.errors.ServerSelectionTimeoutError("no servers"), "documents"),
        (aiormq.exceptions.AMQPConnectionError("closed"), "queue"),
        (aiormq.exceptions.ChannelInvalidStateError("writer is None"), "queue"),
        (QueueUnavailableError("RabbitMQ unreachable"), "queue"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value,
)
def test_a_driver_connection_error_names_its_backend(exc, backend):
    assert backend_of(exc) == backend


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ResponseError("WRONGTYPE"),
        redis.exceptions.LockError("cannot acquire"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.DataError("invalid input for query argument $1"),
        asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'),
        tortoise.exceptions.IntegrityError("duplicate"),
        tortoise.exceptions.OperationalError("Can't update generated field"),
        pymongo.errors.DuplicateKeyError("E11000"),
        aiormq.exceptions.ChannelPreconditionFailed("inequivalent arg"),
        ValueError("bad"),
        KeyError("x"),
        OSError("disk full"),  # not raised by a driver: the files port, a bug
        TimeoutError(),
    ],
    ids=lambda value: type(value).__name__,
)
def test_anything_else_is_not_an_outage(exc):
    assert backend_of(raised(exc)) is None


def test_tortoise_wrapping_a_driver_error_is_seen_through():
    lost = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    assert backend_of(raised(tortoise.exceptions.OperationalError(lost), lost)) == "database"
    syntax = asyncpg.exceptions.PostgresSyntaxError("syntax error")
    assert backend_of(raised(tortoise.exceptions.OperationalError(syntax), syntax)) is None


def test_an_error_raised_while_handling_an_outage_is_that_outage():
    """A rollback on a dead connection, a handler's own re-raise: the outage is in the context."""
    refused = raised(redis.exceptions.ConnectionError("refused"))
    later = raised(RuntimeError("cleanup failed"), refused, context=True)
    backend, cause = find_outage(later)  # type: ignore[misc]
    assert backend == "cache"
    assert cause is refused
    assert backend_of(raised(RuntimeError("x"), ValueError("y"), context=True)) is None


def test_a_group_with_an_outage_inside_is_that_outage():
    group = ExceptionGroup("tasks", [ValueError("a"), asyncpg.exceptions.CannotConnectNowError("starting")])
    assert backend_of(group) == "database"


async def test_a_refused_connection_is_named_after_the_driver_that_made_it():
    """asyncpg lets ConnectionRefusedError out as it is: its traceback says who connected."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as refused:
        await asyncpg.connect(f"postgres://postgres@127.0.0.1:{port}/test", timeout=2)
    assert backend_of(refused.value) == "database"
    client = aioredis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2)
    try:
        with pytest.raises(redis.exceptions.ConnectionError) as failed:
            await client.ping()
    finally:
        await client.aclose()
    assert backend_of(failed.value) == "cache"


@pytest.mark.services
async def test_asyncpg_timeouts_are_database_outages(postgres_url):
    """Past command_timeout asyncpg raises a bare TimeoutError; past statement_timeout the server
    cancels (QueryCanceledError). Both are the database's."""
    connection = await asyncpg.connect(
        postgres_url, command_timeout=0.2, server_settings={"statement_timeout": "5000"}
    )
    try:
        with pytest.raises(TimeoutError) as client_side:
            await connection.execute("SELECT pg_sleep(2)")
        assert backend_of(client_side.value) == "database"
    finally:
        connection.terminate()
    connection = await asyncpg.connect(postgres_url, server_settings={"statement_timeout": "100"})
    try:
        with pytest.raises(asyncpg.exceptions.QueryCanceledError) as server_side:
            await connection.execute("SELECT pg_sleep(2)")
        assert backend_of(server_side.value) == "database"
    finally:
        await connection.close()


# --- The timeouts each client is given --------------------------------------------------------


@pytest.mark.services
async def test_redis_connections_drop_unacknowledged_data_after_tcp_user_timeout(redis_url, redis_prefix):
    """No per-command timer (it costs every command); the bound on a host that vanished is a
    socket option, set on every connection."""
    cache = open_cache(CacheSettings(url=redis_url, prefix=redis_prefix, tcp_user_timeout_seconds=7))
    try:
        connection = await cache.client.connection_pool.get_connection()
        try:
            sock = connection._writer.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 7000
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert connection.socket_timeout is None
        finally:
            await cache.client.connection_pool.release(connection)
    finally:
        await cache.close()


@pytest.mark.services
async def test_postgres_sessions_have_a_statement_timeout_but_migrations_do_not(postgres_url):
    database = Database(postgres_url, [KERNEL_MODELS], connect_timeout=3, statement_timeout=1.5)
    await database.open()
    try:
        with database.activate():
            rows = await database.connection.execute_query_dict("SHOW statement_timeout")
            assert rows == [{"statement_timeout": "1500ms"}]
            assert database.connection._pool._connect_kwargs["command_timeout"] == 2.5
            with pytest.raises(asyncpg.exceptions.QueryCanceledError):
                await database.connection.execute_query("SELECT pg_sleep(3)")
    finally:
        await database.close()
    credentials = database.tortoise_config(timeouts=False)["connections"]["postgres"]["credentials"]
    assert "server_settings" not in credentials
    assert "command_timeout" not in credentials


@pytest.mark.services
async def test_a_publish_without_a_broker_is_queue_unavailable(amqp_url, queue_prefix):
    async with TcpProxy.to_url(amqp_url) as proxy:
        settings = QueueSettings(url=proxy.url(amqp_url), prefix=queue_prefix)
        queue = RabbitQueue(settings, connect_timeout=2, publish_timeout=1)
        await queue.open()
        try:
            await queue.publish("probe", {"n": 1})
            for mode in ("frozen", "killed"):
                await proxy.set_mode(mode)
                with pytest.raises(QueueUnavailableError) as failed:
                    async with asyncio.timeout(30):  # a guard, not a limit
                        await queue.publish("probe", {"n": 2})
                assert backend_of(failed.value) == "queue"
                await proxy.set_mode("pass")
        finally:
            await queue.close()
    cleaner = RabbitQueue(QueueSettings(url=amqp_url, prefix=queue_prefix))
    await cleaner.open()
    try:
        await cleaner.delete_queues(["probe"])
    finally:
        await cleaner.close()
