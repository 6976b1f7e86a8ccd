"""The queue port: durable work queues with acknowledgement, retry with backoff and dead letters.

Two adapters keep the same contract (``tests/storage/test_queue_contract.py`` runs against both):
:class:`MemoryQueue` (embedded profile, asyncio only) and
:class:`mengchong.storage.queue_amqp.RabbitQueue` (services profile, aio-pika). :func:`open_queue`
picks one from ``settings.url``.

The contract, for every adapter:
- ``publish`` stores a JSON object under a logical queue name and returns its message id;
  messages published before anyone consumes wait for a consumer.
- ``consume`` registers a handler and returns at once. Up to ``settings.prefetch`` handlers of
  one consumer run concurrently, each in a copy of the ``contextvars`` context ``consume`` was
  called in (so a database context active at that point is active in the handler).
- A handler that returns acknowledges the message. One that raises is logged on
  ``mengchong.queue`` and the message comes back after
  ``min(retry_base_seconds * 2**(attempt-1), retry_max_seconds)`` with ``attempt + 1``; after
  ``max_attempts`` failed deliveries it goes to the dead letters of that queue instead.
- Delivery is at least once: a message whose handler was interrupted (``close`` timed out, the
  process died) is delivered again, with the same attempt number. Handlers must be idempotent.
- ``close`` stops taking messages, waits up to ``drain_timeout`` seconds for running handlers,
  cancels the rest (their messages are delivered again later) and disconnects.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson

from mengchong.config import QueueSettings

log = logging.getLogger("mengchong.queue")

DEFAULT_DRAIN_TIMEOUT = 10.0


@dataclass(frozen=True)
class Message:
    queue: str  # logical name as given to publish/consume (without prefix)
    body: dict[str, Any]  # JSON-serialisable
    message_id: str
    attempt: int  # 1 on first delivery, 2 on the first retry, ...


Handler = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class QueueCounts:
    """Messages of one queue: waiting for a consumer, waiting for their next attempt, dead."""

    ready: int
    waiting: int
    dead: int


class QueueUnavailableError(ConnectionError):
    """The broker can't be reached (raised by ``open`` and ``ping``)."""


class Queue(Protocol):
    name: str  # "memory" or "rabbitmq", shown by /readyz

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    async def publish(self, queue: str, body: dict[str, Any], *, message_id: str | None = None) -> str: ...

    async def consume(self, queue: str, handler: Handler) -> None: ...

    async def dead_letters(self, queue: str, limit: int = 100) -> list[Message]: ...

    async def counts(self, queue: str) -> QueueCounts: ...


def open_queue(settings: QueueSettings) -> Queue:
    """The adapter for ``settings.url`` (not yet opened): empty = in-process, ``amqp://`` = RabbitMQ."""
    if not settings.url:
        return MemoryQueue(settings)
    from mengchong.storage.queue_amqp import RabbitQueue  # aio-pika is only imported when used

    return RabbitQueue(settings)


def retry_delay(settings: QueueSettings, attempt: int) -> float:
    """Seconds to wait before delivering again a message whose ``attempt``-th delivery failed."""
    return min(settings.retry_base_seconds * 2 ** (attempt - 1), settings.retry_max_seconds)


def new_message_id() -> str:
    return str(uuid.uuid4())


def encode_body(body: dict[str, Any]) -> bytes:
    if not isinstance(body, dict):
        raise TypeError(f"a message body is a JSON object (dict), not {type(body).__name__}")
    return orjson.dumps(body)


def decode_body(data: bytes) -> dict[str, Any]:
    """The JSON object in ``data``; raises ValueError for anything else."""
    body = orjson.loads(data)
    if not isinstance(body, dict):
        raise ValueError(f"message body is a JSON {type(body).__name__}, not an object")
    return body


def log_handler_failure(
    settings: QueueSettings, queue: str, message_id: str, attempt: int, exc: BaseException
) -> None:
    """Log a failed delivery with what happens next: a retry after a delay, or the dead letters."""
    extra = {"queue": queue, "message_id": message_id, "attempt": attempt}
    if attempt >= settings.max_attempts:
        log.error(
            "handler failed on queue %s message %s (attempt %d of %d); dead-lettered to %s.dead",
            queue,
            message_id,
            attempt,
            settings.max_attempts,
            queue,
            exc_info=exc,
            extra=extra,
        )
    else:
        log.warning(
            "handler failed on queue %s message %s (attempt %d of %d); retrying in %.3g s",
            queue,
            message_id,
            attempt,
            settings.max_attempts,
            retry_delay(settings, attempt),
            exc_info=exc,
            extra=extra,
        )


# --- In-process adapter -------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """A stored message: the encoded body travels as bytes, so a handler can't alter the original."""

    body: bytes
    message_id: str
    attempt: int


class MemoryBroker:
    """In-process stand-in for the RabbitMQ server: ready messages, delayed retries, dead letters.

    It outlives the :class:`MemoryQueue` adapters using it, as a broker outlives its clients:
    messages published through one adapter are consumed through another after the first closed.
    """

    def __init__(self) -> None:
        self._ready: dict[str, asyncio.Queue[Envelope]] = {}
        self._dead: dict[str, list[Envelope]] = {}
        self._delayed: set[asyncio.TimerHandle] = set()
        self._waiting: dict[str, int] = {}

    def ready(self, name: str) -> asyncio.Queue[Envelope]:
        if name not in self._ready:
            self._ready[name] = asyncio.Queue()
        return self._ready[name]

    def put(self, name: str, envelope: Envelope) -> None:
        self.ready(name).put_nowait(envelope)

    def put_later(self, name: str, envelope: Envelope, delay: float) -> None:
        def deliver() -> None:
            self._delayed.discard(handle)
            self._waiting[name] -= 1
            self.put(name, envelope)

        handle = asyncio.get_running_loop().call_later(delay, deliver)
        self._delayed.add(handle)
        self._waiting[name] = self._waiting.get(name, 0) + 1

    def bury(self, name: str, envelope: Envelope) -> None:
        self._dead.setdefault(name, []).append(envelope)

    def counts(self, name: str) -> QueueCounts:
        dead = len(self._dead.get(name, []))
        return QueueCounts(self.ready(name).qsize(), self._waiting.get(name, 0), dead)

    def exhume(self, name: str, limit: int) -> list[Envelope]:
        dead = self._dead.get(name, [])
        taken, self._dead[name] = dead[:limit], dead[limit:]
        return taken


class MemoryQueue:
    """The in-process adapter: asyncio queues and tasks; messages live as long as the process."""

    name = "memory"

    def __init__(
        self,
        settings: QueueSettings,
        *,
        broker: MemoryBroker | None = None,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._broker = broker if broker is not None else MemoryBroker()
        self._drain_timeout = drain_timeout
        self._open = False
        self._dispatchers: set[asyncio.Task[None]] = set()
        self._in_flight: dict[asyncio.Task[None], tuple[str, Envelope]] = {}

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        for dispatcher in self._dispatchers:
            dispatcher.cancel()
        await asyncio.gather(*self._dispatchers, return_exceptions=True)
        self._dispatchers.clear()
        if self._in_flight:
            _done, pending = await asyncio.wait(set(self._in_flight), timeout=self._drain_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def ping(self) -> None:
        return None

    async def publish(self, queue: str, body: dict[str, Any], *, message_id: str | None = None) -> str:
        self._require_open()
        message_id = message_id or new_message_id()
        self._broker.put(self._real_name(queue), Envelope(encode_body(body), message_id, 1))
        return message_id

    async def consume(self, queue: str, handler: Handler) -> None:
        self._require_open()
        context = contextvars.copy_context()
        dispatcher = asyncio.create_task(
            self._dispatch(queue, handler), name=f"queue-consumer:{queue}", context=context
        )
        self._dispatchers.add(dispatcher)

    async def dead_letters(self, queue: str, limit: int = 100) -> list[Message]:
        self._require_open()
        return [
            Message(queue, decode_body(envelope.body), envelope.message_id, envelope.attempt)
            for envelope in self._broker.exhume(self._real_name(queue), limit)
        ]

    async def counts(self, queue: str) -> QueueCounts:
        self._require_open()
        return self._broker.counts(self._real_name(queue))

    def _real_name(self, queue: str) -> str:
        return self._settings.prefix + queue

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("the queue is not open")

    async def _dispatch(self, queue: str, handler: Handler) -> None:
        """Take messages while fewer than ``prefetch`` handlers run; each handler is its own task."""
        ready = self._broker.ready(self._real_name(queue))
        slots = asyncio.Semaphore(self._settings.prefetch)
        while True:
            await slots.acquire()
            try:
                envelope = await ready.get()
            except asyncio.CancelledError:
                slots.release()
                raise
            task = asyncio.create_task(self._deliver(queue, handler, envelope))
            self._in_flight[task] = (queue, envelope)
            task.add_done_callback(lambda task, slots=slots: self._settle(task, slots))

    def _settle(self, task: asyncio.Task[None], slots: asyncio.Semaphore) -> None:
        slots.release()
        queue, envelope = self._in_flight.pop(task)
        if task.cancelled():  # interrupted, not failed: back to the queue, like an unacked message
            self._broker.put(self._real_name(queue), envelope)

    async def _deliver(self, queue: str, handler: Handler, envelope: Envelope) -> None:
        real_name = self._real_name(queue)
        try:
            message = Message(queue, decode_body(envelope.body), envelope.message_id, envelope.attempt)
            await handler(message)
        except Exception as exc:
            log_handler_failure(self._settings, queue, envelope.message_id, envelope.attempt, exc)
            if envelope.attempt >= self._settings.max_attempts:
                self._broker.bury(real_name, envelope)
            else:
                retry = replace(envelope, attempt=envelope.attempt + 1)
                self._broker.put_later(real_name, retry, retry_delay(self._settings, envelope.attempt))
