"""Domain events: published by the module that owns a change, after its transaction commits.

Two ways in:
- :meth:`EventBus.publish` — after commit, dispatched at once in this process to every
  ``mengchong_event`` hookimpl; a failing handler is logged and counted, never the caller's error.
- :meth:`EventBus.record` — inside the caller's transaction, into the ``outbox_events`` table;
  the relay task publishes committed rows to the queue, and the queue consumer dispatches
  them (acknowledged after every handler succeeded, retried with backoff, dead-lettered after
  ``queue.max_attempts``). This path survives a crash between commit and dispatch; delivery is
  at least once, so handlers of recorded events must be idempotent (``event.id`` is stable).

This module is itself a default plugin: it contributes the relay task and the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pluggy
from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong.config import EventsSettings
from mengchong.hookspecs import hookimpl
from mengchong.http.metrics import Metrics
from mengchong.keys import events_key
from mengchong.plugin_manager import call_implementation, implementations
from mengchong.storage.database import Database
from mengchong.storage.models import OutboxEvent
from mengchong.storage.queue import Message, Queue
from mengchong.tasks import BackgroundTask, Consumer

log = logging.getLogger("mengchong.events")

EVENTS_QUEUE = "events"


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Event:
    """A fact another module may react to: ``checkin.completed``, ``pet.adopted``, …"""

    name: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=utc_now_iso)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(name=data["name"], payload=data["payload"], id=data["id"], occurred_at=data["occurred_at"])


class EventHandlerError(Exception):
    """One or more handlers failed; the queue will retry the event."""


class EventBus:
    def __init__(
        self,
        app: web.Application,
        pm: pluggy.PluginManager,
        database: Database,
        queue: Queue,
        metrics: Metrics,
        settings: EventsSettings,
    ) -> None:
        self._app = app
        self._pm = pm
        self._database = database
        self._queue = queue
        self._metrics = metrics
        self._settings = settings
        self._wakeup = asyncio.Event()

    async def publish(self, name: str, payload: dict[str, Any]) -> Event:
        """Dispatch now, in this process. Call it only after the change has committed."""
        event = Event(name, payload)
        await self.dispatch(event)
        return event

    async def record(self, name: str, payload: dict[str, Any], *, connection: BaseDBAsyncClient) -> Event:
        """Write the event into the outbox in the caller's transaction; call :meth:`wake` after commit."""
        event = Event(name, payload)
        await OutboxEvent.create(event_id=event.id, name=name, payload=event.as_dict(), using_db=connection)
        return event

    def wake(self) -> None:
        """Ask the relay to run now rather than at its next interval."""
        self._wakeup.set()

    async def dispatch(self, event: Event, *, raise_errors: bool = False) -> None:
        """Run every ``mengchong_event`` hookimpl; failures are logged, and raised if asked."""
        failed: list[str] = []
        for impl in implementations(self._pm, "mengchong_event"):
            try:
                result = call_implementation(impl, app=self._app, event=event)
                if result is not None:
                    await result
            except Exception:
                log.exception(
                    "event handler %s failed on %s",
                    impl.plugin_name,
                    event.name,
                    extra={"event": event.name, "event_id": event.id, "plugin": impl.plugin_name},
                )
                failed.append(impl.plugin_name)
        self._metrics.events.labels(event.name, "failed" if failed else "ok").inc()
        if failed and raise_errors:
            raise EventHandlerError(f"{event.name} {event.id}: failed in {', '.join(failed)}")

    async def relay_once(self) -> int:
        """Publish committed outbox rows to the queue, oldest first; returns how many went out."""
        relayed: list[int] = []
        error: Exception | None = None
        async with self._database.transaction() as connection:
            rows = (
                await OutboxEvent.filter(relayed_at=None)
                .order_by("id")
                .limit(self._settings.relay_batch)
                .select_for_update(skip_locked=True)
                .using_db(connection)
            )
            for row in rows:
                try:
                    await self._queue.publish(EVENTS_QUEUE, row.payload, message_id=row.event_id)
                except Exception as exc:  # keep what went out; the rest waits for the next run
                    error = exc
                    break
                relayed.append(row.id)
            if relayed:
                await (
                    OutboxEvent.filter(id__in=relayed)
                    .using_db(connection)
                    .update(relayed_at=datetime.now(UTC))
                )
        if error is not None:
            raise error
        return len(relayed)

    async def run_relay(self, app: web.Application) -> None:
        """The relay task: wakes on :meth:`wake` or every ``relay_interval_seconds``."""
        while True:
            while await self.relay_once() == self._settings.relay_batch:
                pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._settings.relay_interval_seconds)
            self._wakeup.clear()

    async def consume(self, message: Message) -> None:
        await self.dispatch(Event.from_dict(message.body), raise_errors=True)


@hookimpl
def mengchong_tasks(app: web.Application) -> Iterable[BackgroundTask]:
    return [BackgroundTask("events.relay", app[events_key].run_relay)]


@hookimpl
def mengchong_consumers(app: web.Application) -> Iterable[Consumer]:
    return [Consumer(EVENTS_QUEUE, app[events_key].consume)]
