"""The RabbitMQ adapter of the queue port (services profile), on aio-pika.

Per logical queue ``q`` (real names start with ``settings.prefix``), all durable:
- ``<prefix>q`` — the work queue; messages are persistent and published with confirms;
- ``<prefix>q.retry.<ms>ms`` — one wait queue per backoff delay, with that delay as its
  ``x-message-ttl`` and a dead-letter route (default exchange) back to ``<prefix>q``. One queue
  per delay rather than one queue with per-message TTLs, because RabbitMQ only expires messages
  at the head of a queue: a 300 s retry would hold back every 1 s retry queued behind it;
- ``<prefix>q.dead`` — messages that failed ``max_attempts`` times, read by :meth:`dead_letters`.

The attempt number travels in the ``x-mengchong-attempt`` header. A failed message is first
republished (confirmed) to its wait or dead queue, and only then acknowledged on the work queue,
so a crash in between duplicates it at worst, never loses it. Changing the retry settings
declares new wait queues; old ones keep routing back to the work queue and may be deleted once
empty.

Every broker round trip is bounded: connecting and opening the channel by ``connect_timeout``,
declaring, consuming, deleting and publishing (with its confirm) by ``publish_timeout``. A
publish that fails for want of a broker raises :class:`QueueUnavailableError`, which the request
pipeline answers 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
    ConsumerTag,
)
from aio_pika.exceptions import AMQPConnectionError, AMQPError, ChannelInvalidStateError

from mengchong.config import QueueSettings
from mengchong.storage.queue import (
    DEFAULT_DRAIN_TIMEOUT,
    Handler,
    Message,
    QueueCounts,
    QueueUnavailableError,
    decode_body,
    encode_body,
    log_handler_failure,
    new_message_id,
    retry_delay,
)

log = logging.getLogger("mengchong.queue")
CANCEL_SECONDS = 5.0  # for the broker to confirm the consumers' cancels at close

ATTEMPT_HEADER = "x-mengchong-attempt"
ERROR_HEADER = "x-mengchong-error"


@dataclass(frozen=True)
class Topology:
    """The real queue names of one logical queue."""

    main: str
    dead: str
    retries: dict[int, str]  # failed attempt -> wait queue holding the next attempt

    @classmethod
    def of(cls, settings: QueueSettings, queue: str) -> Topology:
        main = settings.prefix + queue
        retries = {
            attempt: f"{main}.retry.{delay_ms(settings, attempt)}ms"
            for attempt in range(1, settings.max_attempts)
        }
        return cls(main=main, dead=f"{main}.dead", retries=retries)

    def names(self) -> list[str]:
        return [self.main, self.dead, *dict.fromkeys(self.retries.values())]


def delay_ms(settings: QueueSettings, attempt: int) -> int:
    return max(1, round(retry_delay(settings, attempt) * 1000))


def attempt_of(message: AbstractIncomingMessage) -> int:
    try:
        return max(1, int(message.headers.get(ATTEMPT_HEADER, 1)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1


class RabbitQueue:
    """The queue port on RabbitMQ: a robust connection and one confirming channel."""

    name = "rabbitmq"

    def __init__(
        self,
        settings: QueueSettings,
        *,
        connect_timeout: float = 5.0,
        publish_timeout: float = 10.0,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._drain_timeout = drain_timeout
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._declared: dict[str, AbstractQueue] = {}  # logical name -> its declared work queue
        self._declare_lock = asyncio.Lock()
        self._consumers: list[tuple[AbstractQueue, ConsumerTag]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._closing = False
        self._declared_names: set[str] = set()  # real names, kept across close() for delete_queues()

    @property
    def declared_queue_names(self) -> frozenset[str]:
        """Real names of every queue this adapter declared since it was created."""
        return frozenset(self._declared_names)

    async def open(self) -> None:
        try:
            async with asyncio.timeout(self._connect_timeout + 1):
                connection = await aio_pika.connect_robust(self._settings.url, timeout=self._connect_timeout)
        except (OSError, TimeoutError, AMQPError) as exc:
            raise QueueUnavailableError(f"RabbitMQ unreachable: {exc!r}") from exc
        try:
            async with asyncio.timeout(self._connect_timeout):
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                await channel.set_qos(prefetch_count=self._settings.prefetch)
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, OSError | TimeoutError | AMQPError):
                raise QueueUnavailableError(f"RabbitMQ unreachable: {exc!r}") from exc
            raise
        self._connection, self._channel = connection, channel
        self._closing = False

    async def close(self) -> None:
        if self._connection is None:
            return
        self._closing = True
        if self._consumers and not self._connection.is_closed:
            # All at once, within one bound: one by one, a broker that stopped answering held
            # the shutdown 5 s per consumer.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CANCEL_SECONDS):
                    cancels = (amqp_queue.cancel(tag) for amqp_queue, tag in self._consumers)
                    await asyncio.gather(*cancels, return_exceptions=True)
        self._consumers.clear()
        if self._in_flight:
            _done, pending = await asyncio.wait(set(self._in_flight), timeout=self._drain_timeout)
            for task in pending:  # their messages stay unacknowledged: the broker delivers them again
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        with contextlib.suppress(Exception):  # a broker that does not answer does not hold shutdown
            async with asyncio.timeout(self._connect_timeout):
                await connection.close()

    async def ping(self) -> None:
        """Open and close a channel (one round trip); a fresh connection when not open."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self._connection is None:
                    connection = await aio_pika.connect(self._settings.url, timeout=self._connect_timeout)
                    await connection.close()
                    return
                if self._connection.is_closed:
                    raise ConnectionError("connection closed")
                channel = await self._connection.channel(publisher_confirms=False)
                await channel.close()
        except (OSError, TimeoutError, AMQPError, RuntimeError) as exc:
            raise QueueUnavailableError(f"RabbitMQ unreachable: {exc!r}") from exc

    async def publish(self, queue: str, body: dict[str, Any], *, message_id: str | None = None) -> str:
        data = encode_body(body)
        self._require_channel()
        message_id = message_id or new_message_id()
        try:
            await self._declare(queue)
            await self._send(self._settings.prefix + queue, data, message_id, attempt=1)
        except (OSError, TimeoutError, AMQPConnectionError, ChannelInvalidStateError) as exc:
            raise QueueUnavailableError(f"RabbitMQ unavailable: {exc!r}") from exc
        return message_id

    async def consume(self, queue: str, handler: Handler) -> None:
        self._require_channel()
        work_queue = await self._declare(queue)
        callback = partial(self._on_message, queue, handler, contextvars.copy_context())
        tag = await work_queue.consume(callback, timeout=self._publish_timeout)
        self._consumers.append((work_queue, tag))

    async def dead_letters(self, queue: str, limit: int = 100) -> list[Message]:
        channel = self._require_channel()
        await self._declare(queue)
        dead = await channel.get_queue(Topology.of(self._settings, queue).dead, ensure=False)
        messages: list[Message] = []
        while len(messages) < limit:
            incoming = await dead.get(fail=False, timeout=self._publish_timeout)
            if incoming is None:
                break
            try:
                body = decode_body(incoming.body)
            except ValueError:
                body = {"undecodable": incoming.body.decode("utf-8", "replace")}
            messages.append(Message(queue, body, incoming.message_id or "", attempt_of(incoming)))
            await incoming.ack()
        return messages

    async def counts(self, queue: str) -> QueueCounts:
        """Counted by passive declares on the channel underneath the robust one, which would
        otherwise remember them to declare again after a reconnect. Unacknowledged messages (being
        handled) are in none of the counts."""
        channel = self._require_channel()
        await self._declare(queue)
        topology = Topology.of(self._settings, queue)
        async with asyncio.timeout(self._publish_timeout):
            underlay = await channel.get_underlay_channel()

            async def count(name: str) -> int:
                declared = await underlay.queue_declare(name, passive=True)
                return int(declared.message_count or 0)

            ready, dead = await count(topology.main), await count(topology.dead)
            waiting = [await count(name) for name in dict.fromkeys(topology.retries.values())]
        return QueueCounts(ready, sum(waiting), dead)

    async def delete_queues(self, queues: Iterable[str] = (), *, real_names: Iterable[str] = ()) -> None:
        """Delete, with their messages, every queue this adapter declared since it was created
        (also before a close(); reopen it to clean up), the work, wait and dead queues of the
        logical ``queues`` as the current settings name them, and the queues named ``real_names``
        (another adapter's :meth:`declared_queue_names`). For tests and operators only."""
        channel = self._require_channel()
        names = set(self._declared_names) | set(real_names)
        for queue in queues:
            names.update(Topology.of(self._settings, queue).names())
        for name in sorted(names):
            # the robust channel also forgets it: no redeclaring
            await channel.queue_delete(name, timeout=self._publish_timeout)
        self._consumers = [(queue, tag) for queue, tag in self._consumers if queue.name not in names]
        self._declared_names.clear()
        self._declared.clear()

    def _require_channel(self) -> AbstractRobustChannel:
        if self._channel is None or self._closing:
            raise RuntimeError("the queue is not open")
        return self._channel

    async def _declare(self, queue: str) -> AbstractQueue:
        """Declare the work, wait and dead queues of ``queue`` once per connection."""
        if queue in self._declared:
            return self._declared[queue]
        async with self._declare_lock:
            if queue in self._declared:
                return self._declared[queue]
            channel = self._require_channel()
            topology = Topology.of(self._settings, queue)
            self._declared_names.update(topology.names())
            async with asyncio.timeout(self._publish_timeout):
                work_queue = await channel.declare_queue(topology.main, durable=True)
                await channel.declare_queue(topology.dead, durable=True)
                for attempt, name in topology.retries.items():
                    arguments = {
                        "x-message-ttl": delay_ms(self._settings, attempt),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": topology.main,
                    }
                    await channel.declare_queue(name, durable=True, arguments=arguments)
            self._declared[queue] = work_queue
            return work_queue

    async def _send(
        self, routing_key: str, body: bytes, message_id: str, *, attempt: int, error: str | None = None
    ) -> None:
        """Publish persistently and return once the broker confirmed (raises if it could not route)."""
        headers: dict[str, Any] = {ATTEMPT_HEADER: attempt}
        if error is not None:
            headers[ERROR_HEADER] = error[:500]
        message = aio_pika.Message(
            body,
            headers=headers,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
        )
        if (
            self._channel is None
        ):  # not _require_channel: handlers still finishing during close() move messages
            raise RuntimeError("the queue is not open")
        await self._channel.default_exchange.publish(
            message, routing_key=routing_key, timeout=self._publish_timeout
        )

    async def _on_message(
        self, queue: str, handler: Handler, context: contextvars.Context, incoming: AbstractIncomingMessage
    ) -> None:
        if self._closing:  # delivered between basic.cancel and its reply: give it back
            with contextlib.suppress(Exception):
                await incoming.nack(requeue=True)
            return
        task = asyncio.create_task(self._handle(queue, handler, incoming), context=context.copy())
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _handle(self, queue: str, handler: Handler, incoming: AbstractIncomingMessage) -> None:
        attempt = attempt_of(incoming)
        message_id = incoming.message_id or ""
        try:
            message = Message(queue, decode_body(incoming.body), message_id, attempt)
        except ValueError as exc:
            log.error(
                "undecodable message %s on queue %s; dead-lettered: %s",
                message_id,
                queue,
                exc,
                extra={"queue": queue, "message_id": message_id},
            )
            await self._move(queue, incoming, Topology.of(self._settings, queue).dead, attempt, exc)
            return
        try:
            await handler(message)
        except Exception as exc:
            log_handler_failure(self._settings, queue, message_id, attempt, exc)
            topology = Topology.of(self._settings, queue)
            if attempt >= self._settings.max_attempts:
                await self._move(queue, incoming, topology.dead, attempt, exc)
            else:
                await self._move(queue, incoming, topology.retries[attempt], attempt + 1, exc)
            return
        await self._ack(queue, incoming)

    async def _ack(self, queue: str, incoming: AbstractIncomingMessage) -> None:
        try:
            await incoming.ack()
        except Exception:  # the channel went away: the broker delivers the message again
            log.warning(
                "could not acknowledge message %s on queue %s; it will be delivered again",
                incoming.message_id,
                queue,
                exc_info=True,
                extra={"queue": queue, "message_id": incoming.message_id},
            )

    async def _move(
        self, queue: str, incoming: AbstractIncomingMessage, target: str, attempt: int, exc: Exception
    ) -> None:
        """Republish to a wait or dead queue (confirmed), then acknowledge the original."""
        message_id = incoming.message_id or ""
        try:
            await self._send(target, incoming.body, message_id, attempt=attempt, error=repr(exc))
        except Exception:
            log.exception(
                "could not move message %s of queue %s to %s; it will be delivered again",
                message_id,
                queue,
                target,
                extra={"queue": queue, "message_id": message_id},
            )
            # Not at once: a broker that refuses the move would otherwise spin this message.
            await asyncio.sleep(retry_delay(self._settings, 1))
            with contextlib.suppress(Exception):
                await incoming.nack(requeue=True)
            return
        await self._ack(queue, incoming)
