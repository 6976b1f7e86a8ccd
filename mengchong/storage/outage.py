"""Which backend, if any, an exception says is unavailable.

The request pipeline answers such a failure 503 (code 50301, Retry-After) instead of 500, and
names the backend in the log, not in the body. A failure is recognised by the drivers' own
connection and timeout errors, found anywhere in the exception's chain (``__cause__`` and
``__context__``): tortoise wraps asyncpg's errors, and code that catches one and fails again
(a rollback on a dead connection, a re-raise) keeps it there. A bare ``OSError`` or
``TimeoutError`` (asyncpg raises both as they are while connecting or past ``command_timeout``)
is attributed to the driver whose code raised it, read from the traceback.

Optional drivers (motor/pymongo, aio-pika/aiormq) are looked up in ``sys.modules``, not
imported: when a driver is not loaded, none of its exceptions can exist.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import TracebackType

import asyncpg
import redis.exceptions
import tortoise.exceptions

from mengchong.storage.queue import QueueUnavailableError

Backend = str  # "database", "cache", "documents" or "queue"
RETRY_AFTER_SECONDS = 5  # what a 503 tells the client to wait: a restart or failover, not an hour
CHAIN_LIMIT = 16

# Package of the innermost driver frame -> the backend it talks to (for bare OSError/TimeoutError).
DRIVER_PACKAGES: dict[str, Backend] = {
    "asyncpg": "database",
    "redis": "cache",
    "motor": "documents",
    "pymongo": "documents",
    "aiormq": "queue",
    "aio_pika": "queue",
    "pamqp": "queue",
}

# asyncpg: the connection is gone or refused, the server is shutting down or starting, or a
# statement ran past statement_timeout (QueryCanceledError).
POSTGRES_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailureError...
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.TooManyConnectionsError,
    tortoise.exceptions.DBConnectionError,
)
# asyncpg's InterfaceError is mostly "connection is closed" / "pool is closing"; its subclasses
# below are bad parameters or settings, our bugs, and stay 500.
POSTGRES_INTERFACE_BUGS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.ClientConfigurationError,
    asyncpg.exceptions.UnsupportedClientFeatureError,
    asyncpg.exceptions.UnsupportedServerFeatureError,
)
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)  # incl. MaxConnectionsError


def backend_of(exc: BaseException) -> Backend | None:
    """The backend ``exc`` says is unavailable ("database", "cache", "documents", "queue"),
    or None when it is something else (a bug, a bad value): that stays a 500."""
    found = find_outage(exc)
    return found[0] if found else None


def find_outage(exc: BaseException) -> tuple[Backend, BaseException] | None:
    """The backend and the exception in ``exc``'s chain that names it, for the log line."""
    for link in chain(exc):
        backend = classify(link)
        if backend is not None:
            return backend, link
    return None


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then its causes and contexts (and a group's members), each once."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < CHAIN_LIMIT:
        link = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        if isinstance(link, BaseExceptionGroup):
            pending.extend(link.exceptions)
        pending.extend(e for e in (link.__cause__, link.__context__) if e is not None)


def classify(exc: BaseException) -> Backend | None:
    """The backend this one exception (not its chain) names."""
    if isinstance(exc, QueueUnavailableError):
        return "queue"
    if isinstance(exc, REDIS_ERRORS):
        return "cache"
    if isinstance(exc, POSTGRES_ERRORS):
        return "database"
    if isinstance(exc, asyncpg.exceptions.InterfaceError) and not isinstance(exc, POSTGRES_INTERFACE_BUGS):
        return "database"
    backend = optional_driver_error(exc)
    if backend is not None:
        return backend
    if isinstance(exc, OSError | TimeoutError):  # TimeoutError is asyncio.TimeoutError too
        return raised_by_driver(exc.__traceback__)
    return None


def optional_driver_error(exc: BaseException) -> Backend | None:
    pymongo_errors = sys.modules.get("pymongo.errors")
    if pymongo_errors is not None and isinstance(exc, pymongo_errors.ConnectionFailure):
        return "documents"  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError...
    aiormq_errors = sys.modules.get("aiormq.exceptions")
    if aiormq_errors is not None and isinstance(
        exc, aiormq_errors.AMQPConnectionError | aiormq_errors.ChannelInvalidStateError
    ):
        return "queue"
    return None


def raised_by_driver(traceback: TracebackType | None) -> Backend | None:
    """The backend of the innermost frame of a known driver in ``traceback``."""
    backend = None
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        package = DRIVER_PACKAGES.get(module.partition(".")[0])
        if package is not None:
            backend = package
        traceback = traceback.tb_next
    return backend
