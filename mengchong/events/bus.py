"""The event bus: events written to the outbox with the change they report, relayed to one durable
queue per subscriber, handled there and nowhere else.

- :func:`record_event` (or :meth:`EventBus.record`) writes the event into ``outbox_events`` in
  the caller's transaction: an event of a change that rolls back is never delivered. When that
  transaction commits, the relay is woken (:func:`mengchong.storage.transaction.notify_on_commit`).
- :meth:`EventBus.update_with_events` is for a change to a document: on the SQL documents store
  the events go into the outbox in the update's own statement, so they are written if and only
  if the update is (on MongoDB, right after it). :meth:`EventBus.publish` is for any other
  change not made in a relational transaction: the event goes into the outbox on its own,
  after the change. Either wakes the relay; with no subscriber for an event, nothing is written.
- The relay task publishes each committed row to the queue of every subscriber of its name
  (``events.<subscriber>``) and marks it relayed. Each subscriber's queue is consumed on its own:
  a handler that fails is retried with backoff and dead-lettered on its own queue, and never
  makes another subscriber's handler run again. No handler runs on a request's path.
- Delivery is at least once and ``event.id`` is stable: wrap a handler in
  :func:`mengchong.events.once_per_event` to run it once per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong.config import ConfigError, EventsSettings
from mengchong.events.catalog import EventPayload
from mengchong.http.metrics import Metrics
from mengchong.storage.database import Database, fetch_rows
from mengchong.storage.documents import Collection, Document, Record
from mengchong.storage.models import OutboxEvent, ProcessedEvent
from mengchong.storage.outbox import OutboxRow, insert_outbox_rows
from mengchong.storage.queue import Message, Queue
from mengchong.storage.transaction import defer_to_commit, notify_on_commit, transaction_now
from mengchong.tasks import Consumer

log = logging.getLogger("mengchong.events")

QUEUE_PREFIX = "events."
SUBSCRIBER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
P = TypeVar("P", bound=EventPayload)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Event:
    """A fact another module may react to, as it travels: its name, its payload as JSON, its id."""

    name: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=utc_now_iso)

    @classmethod
    def of(cls, payload: EventPayload, occurred_at: datetime | None = None) -> Event:
        """The event of ``payload``, stamped ``occurred_at`` (an aware time; default: now)."""
        if occurred_at is None:
            return cls(payload.NAME, payload.as_payload())
        return cls(payload.NAME, payload.as_payload(), occurred_at=occurred_at.astimezone(UTC).isoformat())

    def data(self, payload_type: type[P]) -> P:
        """The typed payload; ``payload_type`` must be this event's (a subscriber of several
        events checks ``event.name`` first)."""
        if self.name != payload_type.NAME:
            raise TypeError(f"event {self.name!r} does not carry a {payload_type.__name__}")
        return payload_type.from_payload(self.payload)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "payload": self.payload, "id": self.id, "occurred_at": self.occurred_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(name=data["name"], payload=data["payload"], id=data["id"], occurred_at=data["occurred_at"])


EventHandler = Callable[[web.Application, Event], Awaitable[None]]


@dataclass(frozen=True)
class Subscriber:
    """A plugin's handler of some events, with a durable queue of its own (``events.<name>``).

    ``name`` is stable (renaming it starts a new, empty queue): lowercase letters, digits and
    ``_ . -``, e.g. ``"leaderboard.points"``."""

    name: str
    events: tuple[type[EventPayload], ...]
    handle: EventHandler

    def __post_init__(self) -> None:
        if not SUBSCRIBER_NAME.fullmatch(self.name):
            raise ConfigError(f"event subscriber {self.name!r}: use lowercase letters, digits, _ . - (1-63)")
        if not self.events:
            raise ConfigError(f"event subscriber {self.name!r}: subscribes to no event")

    @property
    def queue(self) -> str:
        return QUEUE_PREFIX + self.name


async def record_event(connection: BaseDBAsyncClient, payload: EventPayload) -> Event:
    """Write the event into the outbox inside the caller's transaction (``connection``); it is
    relayed once that transaction commits, and never if it rolls back."""
    event = Event.of(payload, transaction_now())  # on the app's clock, as the change was made
    await _write_outbox(connection, event)
    notify_on_commit()
    return event


_PENDING = (
    "SELECT id, event_id, name, payload, created_at FROM outbox_events WHERE relayed_at IS NULL "
    "ORDER BY id LIMIT $1"
)


def waited_seconds(created_at: datetime | str) -> float:
    """How long ago an outbox row was written (its ``created_at``, on the system clock; SQLite's
    driver returns it as text)."""
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - created_at).total_seconds())


def _outbox_row(event: Event, now: datetime) -> OutboxRow:
    # The payload as JSON text, as the model's JSONField writes it.
    return (event.id, event.name, orjson.dumps(event.as_dict()).decode(), now)


async def _write_outbox(connection: BaseDBAsyncClient, event: Event) -> None:
    """In an open transaction, the row is written with the transaction's others just before it
    commits (a check-in's two events: one statement); otherwise now."""
    row = _outbox_row(event, datetime.now(UTC))
    if not defer_to_commit(connection, insert_outbox_rows, row):
        await insert_outbox_rows(connection, [row])


class EventBus:
    def __init__(
        self,
        app: web.Application,
        database: Database,
        queue: Queue,
        metrics: Metrics,
        settings: EventsSettings,
    ) -> None:
        self._app = app
        self._database = database
        self._queue = queue
        self._metrics = metrics
        self._settings = settings
        self._wakeup = asyncio.Event()
        self._subscribers: dict[str, Subscriber] = {}
        self._owners: dict[str, str] = {}
        self._routes: dict[str, list[Subscriber]] = {}
        database.on_commit(self.wake)

    def subscribe(self, plugin: str, subscribers: Iterable[Subscriber]) -> None:
        """Add a plugin's subscribers (at app creation); a name used twice is a ConfigError."""
        for subscriber in subscribers:
            if subscriber.name in self._subscribers:
                owner = self._owners[subscriber.name]
                raise ConfigError(f"event subscriber {subscriber.name!r} of {plugin} is already {owner}'s")
            self._subscribers[subscriber.name] = subscriber
            self._owners[subscriber.name] = plugin
            for payload_type in dict.fromkeys(subscriber.events):
                self._routes.setdefault(payload_type.NAME, []).append(subscriber)

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers.values())

    def subscribers_of(self, name: str) -> list[Subscriber]:
        return self._routes.get(name, [])

    async def record(self, payload: EventPayload, *, connection: BaseDBAsyncClient) -> Event:
        """:func:`record_event`: the event goes out when the caller's transaction commits."""
        return await record_event(connection, payload)

    async def publish(self, payload: EventPayload) -> Event:
        """For a change already made outside a relational transaction: the event goes into the
        outbox on its own (nothing is written when no plugin subscribes to it) and out at once."""
        event = Event.of(payload, self._database.clock.now())
        if not self._routes.get(event.name):
            return event
        await _write_outbox(self._database.connection, event)
        self._relay_once_committed()
        return event

    async def update_with_events(
        self,
        collection: Collection,
        doc_id: str,
        changes: Mapping[str, Any],
        payloads: Iterable[EventPayload],
        *,
        expected_version: int | None = None,
        record: Record | None = None,
    ) -> Document | None:
        """``collection.update(...)`` with the events of ``payloads`` (those some plugin subscribes
        to) written to the outbox if and only if the update applies: in the update's own
        statement where the collection ``writes_outbox`` (SQL), otherwise right after it (a crash
        in between loses them). Returns what the update returns."""
        now = self._database.clock.now()
        events = [Event.of(payload, now) for payload in payloads if self._routes.get(payload.NAME)]
        rows = [_outbox_row(event, datetime.now(UTC)) for event in events]
        atomic = bool(rows) and collection.writes_outbox
        updated = await collection.update(
            doc_id, changes, expected_version=expected_version, record=record, outbox=rows if atomic else ()
        )
        if updated is None or not rows:
            return updated
        if not atomic:
            await insert_outbox_rows(self._database.connection, rows)
        self._relay_once_committed()
        return updated

    def _relay_once_committed(self) -> None:
        """Rows just written to the outbox go out when the open transaction commits, or now
        outside one (they have committed already)."""
        if not notify_on_commit():
            self.wake()

    def wake(self) -> None:
        """Ask the relay to run now rather than at its next interval."""
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Send committed outbox rows to their subscribers' queues, oldest first; returns how many
        rows went out (a row no plugin subscribes to is marked relayed and dropped)."""
        relayed: list[int] = []
        error: Exception | None = None
        async with self._database.transaction() as connection:
            # Raw statements: through the ORM, the relay's two queries were a tenth of a
            # check-in's CPU. SKIP LOCKED lets a second process relay other rows meanwhile.
            locking = " FOR UPDATE SKIP LOCKED" if connection.capabilities.dialect == "postgres" else ""
            rows = await fetch_rows(connection, _PENDING + locking, [self._settings.relay_batch])
            self._metrics.outbox_lag.set(waited_seconds(rows[0]["created_at"]) if rows else 0.0)
            for row in rows:
                try:
                    payload = row["payload"]
                    body = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
                    for subscriber in self.subscribers_of(row["name"]):
                        await self._queue.publish(subscriber.queue, body, message_id=row["event_id"])
                except Exception as exc:  # keep what went out; the rest waits for the next run
                    error = exc
                    break
                relayed.append(int(row["id"]))
            if relayed:
                marks = ", ".join(f"${index}" for index in range(2, len(relayed) + 2))
                sql = f"UPDATE outbox_events SET relayed_at = $1 WHERE id IN ({marks})"
                await fetch_rows(connection, sql, [datetime.now(UTC), *relayed])
        if error is not None:
            raise error
        return len(relayed)

    async def run_relay(self, app: web.Application) -> None:
        """The relay task: wakes on :meth:`wake` or every ``relay_interval_seconds``."""
        linger = self._settings.relay_linger_seconds
        while True:
            self._wakeup.clear()
            while await self.relay_once() == self._settings.relay_batch:
                pass
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.relay_interval_seconds):
                    await self._wakeup.wait()
                if linger:  # under load, one round for the commits of many requests
                    await asyncio.sleep(linger)

    async def prune_once(self) -> int:
        """Delete relayed outbox rows and once-per-event marks older than ``keep_days``."""
        before = datetime.now(UTC) - timedelta(days=self._settings.keep_days)
        relayed = await OutboxEvent.filter(relayed_at__lt=before).delete()
        processed = await ProcessedEvent.filter(processed_at__lt=before).delete()
        return relayed + processed

    async def run_prune(self, app: web.Application) -> None:
        while True:
            await self.prune_once()
            await asyncio.sleep(self._settings.prune_interval_seconds)

    def consumer(self, subscriber: Subscriber) -> Consumer:
        """The queue consumer of one subscriber: a handler that raises is retried by the queue."""

        async def handle(message: Message) -> None:
            event = Event.from_dict(message.body)
            try:
                await subscriber.handle(self._app, event)
            except Exception:
                self._metrics.events.labels(event.name, subscriber.name, "failed").inc()
                raise
            self._metrics.events.labels(event.name, subscriber.name, "ok").inc()

        return Consumer(subscriber.queue, handle)
