"""The relational port: tortoise-orm on SQLite (embedded default) or PostgreSQL (services profile).

One :class:`Database` owns one ``TortoiseContext``. Tortoise finds its connections through a
context variable, so the kernel activates the context around every request (the request pipeline) and
every background task; two apps in one process therefore never share connections.
Schema changes go through tortoise's own migrations (``python -m mengchong migrate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext, _current_context
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.transactions import in_transaction

from mengchong.clock import Clock, SystemClock
from mengchong.storage import postgres
from mengchong.storage.transaction import Transaction

Dialect = Literal["sqlite", "postgres"]
TouchListener = Callable[[frozenset[Any]], Awaitable[None]]
log = logging.getLogger("mengchong.database")


@dataclass(frozen=True)
class ModelSet:
    """A tortoise app: its label, the modules holding its models and its migrations package."""

    label: str
    models: Sequence[str]
    migrations: str | None = None
    owner: str = field(default="kernel", compare=False)


def dialect_of(url: str) -> Dialect:
    return "sqlite" if url.startswith("sqlite://") else "postgres"


def connection_url(url: str, pool_min: int, pool_max: int) -> str:
    """Add pool sizes to a PostgreSQL URL (kept when the URL already sets them)."""
    if dialect_of(url) == "sqlite":
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("minsize", str(pool_min))
    query.setdefault("maxsize", str(pool_max))
    return urlunsplit(parts._replace(query=urlencode(query)))


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, None for an in-memory database."""
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    return path if path and path != ":memory:" else None


def ensure_sqlite_directory(url: str) -> None:
    if (path := sqlite_path(url)) is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


@contextlib.asynccontextmanager
async def sqlite_migration_lock(url: str) -> AsyncIterator[None]:
    """An exclusive lock on ``<database file>.migrating`` while the body migrates: processes
    migrating one SQLite file at once take turns (SQLite's own lock would deadlock the
    migration's writes). The kernel releases it when the process dies."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    handle = await asyncio.to_thread(open, f"{path}.migrating", "a")
    try:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # and the lock with it


_NUMBERED_PLACEHOLDER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=64)
def _in_dialect(dialect: str, sql: str) -> str:
    # SQLite understands numbered parameters as ?NNN, so one statement text serves both dialects.
    return _NUMBERED_PLACEHOLDER.sub(r"?\1", sql) if dialect == "sqlite" else sql


def as_date(value: date | str) -> date:
    """A DATE column of a :func:`fetch_rows` row: a ``date`` from PostgreSQL, ISO text from SQLite."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def as_datetime(value: datetime | str) -> datetime:
    """A timestamp column of a :func:`fetch_rows` row: a ``datetime`` from PostgreSQL, ISO text
    (``YYYY-MM-DD HH:MM:SS.ffffff+00:00``) from SQLite."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def fetch_rows(connection: BaseDBAsyncClient, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Run one statement written with PostgreSQL's ``$1`` placeholders on either dialect.

    Always through ``execute_query_dict``: tortoise's asyncpg ``execute_query`` drops the rows
    of an UPDATE or INSERT, and these statements return what they changed.
    """
    return await connection.execute_query_dict(_in_dialect(connection.capabilities.dialect, sql), params)


class Database:
    """Tortoise-ORM bound to one database URL and the model sets of the enabled modules."""

    def __init__(
        self,
        url: str,
        model_sets: Sequence[ModelSet],
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        timezone: str = "UTC",
        connect_timeout: float = 5.0,
        statement_timeout: float = 0.0,
    ) -> None:
        self.url = url
        self.dialect: Dialect = dialect_of(url)
        # Named after the dialect, not "default": tortoise caches each model's INSERT statement
        # per connection name, and a SQLite statement sent to PostgreSQL fails (tests run both).
        self.connection_name: str = self.dialect
        self.model_sets = list(model_sets)
        self._pool_min = pool_min
        self._pool_max = pool_max
        self._timezone = timezone
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._context = TortoiseContext()
        self._commit_listeners: list[Callable[[], None]] = []
        self._touch_listeners: dict[str, list[TouchListener]] = {}
        self.clock: Clock = SystemClock()
        """The app's clock (``create_app`` sets it): what events recorded in a transaction are
        stamped with."""

    def tortoise_config(self, *, timeouts: bool = True) -> dict[str, Any]:
        """tortoise's config; ``timeouts=False`` leaves statements unbounded (migrations)."""
        apps: dict[str, Any] = {}
        for model_set in self.model_sets:
            app: dict[str, Any] = {
                "models": list(model_set.models),
                "default_connection": self.connection_name,
            }
            if model_set.migrations:
                app["migrations"] = model_set.migrations
            apps[model_set.label] = app
        url = connection_url(self.url, self._pool_min, self._pool_max)
        connection: str | dict[str, Any] = url
        if self.dialect == "postgres":
            credentials = expand_db_url(url)["credentials"]
            statement_timeout = self._statement_timeout if timeouts else 0.0
            credentials.update(postgres.timeouts(self._connect_timeout, statement_timeout))
            connection = {"engine": postgres.ENGINE, "credentials": credentials}
        return {
            "connections": {self.connection_name: connection},
            "apps": apps,
            "use_tz": True,
            "timezone": "UTC",
        }

    @contextlib.contextmanager
    def activate(self) -> Iterator[TortoiseContext]:
        """Make this database the one tortoise models use in the current task."""
        token = self.enter()
        try:
            yield self._context
        finally:
            self.leave(token)

    def enter(self) -> contextvars.Token[TortoiseContext | None]:
        """:meth:`activate` without the context manager, for the request pipeline's hot path;
        hand the token back to :meth:`leave`."""
        return _current_context.set(self._context)

    @staticmethod
    def leave(token: contextvars.Token[TortoiseContext | None]) -> None:
        _current_context.reset(token)

    async def open(self) -> None:
        if self.dialect == "sqlite":
            ensure_sqlite_directory(self.url)
        with self.activate():
            await self._context.init(config=self.tortoise_config())

    async def close(self) -> None:
        with self.activate():
            await self._context.close_connections()

    @property
    def connection(self) -> BaseDBAsyncClient:
        return self._context.connections.get(self.connection_name)

    def transaction(self) -> Transaction:
        """``async with db.transaction() as conn:`` — one transaction on this database."""
        return Transaction(self, in_transaction(self.connection_name))

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every outermost transaction that :func:`notify_on_commit` marked."""
        self._commit_listeners.append(listener)

    def committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    def on_touched(self, table: str, listener: TouchListener) -> None:
        r"""Await ``listener(keys)`` after each commit that :func:`~mengchong.storage.transaction.touch`\ ed
        rows of ``table``, with their keys, before the committing ``async with`` returns."""
        self._touch_listeners.setdefault(table, []).append(listener)

    async def announce_touched(self, touched: Mapping[str, Iterable[Any]]) -> None:
        """Tell the listeners of each table which of its rows a committed write changed. A
        listener that fails is logged, not raised: the write has committed either way."""
        for table, keys in touched.items():
            for listener in self._touch_listeners.get(table, ()):
                try:
                    await listener(frozenset(keys))
                except Exception:
                    log.exception("a listener of changed %s rows failed", table)

    async def ping(self) -> None:
        with self.activate():
            await self.connection.execute_query("SELECT 1")

    async def migrate(self) -> None:
        """Apply every pending migration of every model set; a no-op when up to date.

        Runs in a context of its own, so an open database keeps its connections.
        """
        if self.dialect == "sqlite":
            ensure_sqlite_directory(self.url)
        config = self.tortoise_config(timeouts=False)
        if self.dialect == "postgres":
            credentials = config["connections"][self.connection_name]["credentials"]
            lock = postgres.migration_lock(credentials, self._connect_timeout)
        else:
            lock = sqlite_migration_lock(self.url)
        context = TortoiseContext()
        token = _current_context.set(context)
        try:
            async with lock:
                await tortoise_migrate(config=config)
        finally:
            await context.close_connections()
            _current_context.reset(token)
