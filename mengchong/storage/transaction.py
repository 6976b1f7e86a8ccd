"""The kernel's transaction: tortoise's ``in_transaction`` plus two things the event outbox needs.

- **Writes deferred to the commit.** :func:`defer_to_commit` queues a row on the open
  transaction; just before the outermost transaction commits, the rows queued with one writer
  are written by one call of it (one multi-row INSERT), on the transaction's connection. A
  savepoint that rolls back drops what was queued inside it. A check-in records two events and
  writes them in one statement instead of two.
- **Commit listeners.** :func:`notify_on_commit` marks the outermost transaction; once it has
  committed, the database's listeners are called (the outbox relay wakes the moment the rows it
  must relay are visible).
- **Touched rows.** :func:`touch` names a row the transaction changed (``"users", 42``); once the
  outermost transaction has committed, and before ``async with`` returns, the database's
  :meth:`~mengchong.storage.database.Database.on_touched` listeners of that table are awaited
  with every key touched, so a cache of those rows is told before the writer answers anyone.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

if TYPE_CHECKING:
    from mengchong.storage.database import Database

Writer = Callable[[BaseDBAsyncClient, list[Any]], Awaitable[None]]

_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
    "mengchong_current_transaction", default=None
)


class Transaction:
    """``async with database.transaction() as connection:``; nested, a savepoint."""

    __slots__ = (
        "_connection",
        "_database",
        "_deferred",
        "_inner",
        "_parent",
        "_token",
        "_touched",
        "notify",
    )

    def __init__(self, database: Database, inner: Any) -> None:
        self._database = database
        self._inner = inner
        self._token: contextvars.Token[Transaction | None] | None = None
        self._parent: Transaction | None = None
        self._connection: BaseDBAsyncClient | None = None
        self._deferred: dict[Writer, list[Any]] = {}
        self._touched: dict[str, set[Any]] = {}
        self.notify = False

    @property
    def outermost(self) -> bool:
        return self._parent is None

    async def __aenter__(self) -> BaseDBAsyncClient:
        parent = _current.get()
        # A transaction on another database is a transaction of its own, not a savepoint.
        self._parent = parent if parent is not None and parent._database is self._database else None
        self._connection = await self._inner.__aenter__()
        self._token = _current.set(self)
        return self._connection

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> Any:
        try:
            if exc_type is None and self._parent is not None:
                self._parent._take(self._deferred, self._touched)
            elif exc_type is None and self._deferred:
                try:
                    await self._write_deferred()
                except BaseException as failed:  # roll back, then let it out
                    await self._inner.__aexit__(type(failed), failed, failed.__traceback__)
                    raise
            result = await self._inner.__aexit__(exc_type, exc, traceback)
        finally:
            if self._token is not None:
                _current.reset(self._token)
        if self._parent is None and exc_type is None:
            if self.notify:
                self._database.committed()
            if self._touched:
                await self._database.announce_touched(self._touched)
        return result

    def _take(self, deferred: dict[Writer, list[Any]], touched: dict[str, set[Any]]) -> None:
        for writer, rows in deferred.items():
            self._deferred.setdefault(writer, []).extend(rows)
        for table, keys in touched.items():
            self._touched.setdefault(table, set()).update(keys)

    async def _write_deferred(self) -> None:
        assert self._connection is not None
        deferred, self._deferred = self._deferred, {}
        for writer, rows in deferred.items():
            await writer(self._connection, rows)

    def _outermost(self) -> Transaction:
        transaction = self
        while transaction._parent is not None:
            transaction = transaction._parent
        return transaction

    def _holds(self, connection: BaseDBAsyncClient) -> bool:
        transaction: Transaction | None = self
        while transaction is not None:
            if transaction._connection is connection:
                return True
            transaction = transaction._parent
        return False


def defer_to_commit(connection: BaseDBAsyncClient, writer: Writer, row: Any) -> bool:
    """Queue ``row`` to be written by ``writer(connection, rows)`` just before the open
    transaction of ``connection`` commits; False (nothing queued: write it now) when
    ``connection`` is not one of an open :meth:`Database.transaction`."""
    transaction = _current.get()
    if transaction is None or not transaction._holds(connection):
        return False
    transaction._deferred.setdefault(writer, []).append(row)
    return True


def touch(connection: BaseDBAsyncClient, table: str, key: Any) -> bool:
    """Say that the open transaction of ``connection`` changed row ``key`` of ``table``: the
    database's listeners for ``table`` hear of it once the transaction has committed. False
    (nobody told: call :meth:`Database.announce_touched` after your write) when ``connection`` is
    not one of an open :meth:`Database.transaction`."""
    transaction = _current.get()
    if transaction is None or not transaction._holds(connection):
        return False
    transaction._touched.setdefault(table, set()).add(key)
    return True


def in_transaction() -> bool:
    """Whether a :meth:`Database.transaction` is open here."""
    return _current.get() is not None


def notify_on_commit() -> bool:
    """Have the commit listeners of the open transaction's database called when it commits;
    False when no transaction is open through :meth:`Database.transaction`."""
    transaction = _current.get()
    if transaction is None:
        return False
    transaction._outermost().notify = True
    return True


def transaction_now() -> datetime | None:
    """The time on the clock of the database whose transaction is open here (None outside one)."""
    current = _current.get()
    return None if current is None else current._database.clock.now()
