"""The queue port's contract, run against the in-process adapter and against RabbitMQ.

Each RabbitMQ test gets its own queue-name prefix, and every queue the test's adapters
declared is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity

from mengchong.config import QueueSettings
from mengchong.storage.queue import (
    MemoryBroker,
    MemoryQueue,
    Message,
    Queue,
    QueueCounts,
    QueueUnavailableError,
    open_queue,
)
from mengchong.storage.queue_amqp import RabbitQueue

MAX_ATTEMPTS = 3
BASE_SECONDS = 0.05


class QueueFactory(Protocol):
    def __call__(
        self, *, opened: bool = True, drain_timeout: float = 10.0, **settings: Any
    ) -> Awaitable[Queue]: ...


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def dead_letters_eventually(queue: Queue, name: str, within: float = 10.0) -> list[Message]:
    deadline = asyncio.get_running_loop().time() + within
    while not (dead := await queue.dead_letters(name)):
        assert asyncio.get_running_loop().time() < deadline, "nothing was dead-lettered in time"
        await asyncio.sleep(0.02)
    return dead


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.services)])
def broker_target(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(url, prefix) of the broker under test. A plain fixture: an async one can't resolve others."""
    if request.param == "memory":
        return "", "test."
    return request.getfixturevalue("amqp_url"), request.getfixturevalue("queue_prefix")


@pytest.fixture
async def make_queue(broker_target: tuple[str, str]) -> AsyncIterator[QueueFactory]:
    """``await make_queue(**settings)``: an opened adapter; all of a test's adapters share one broker."""
    url, prefix = broker_target
    broker = MemoryBroker()
    made: list[Queue] = []

    def settings_with(**overrides: Any) -> QueueSettings:
        values: dict[str, Any] = {
            "url": url,
            "prefix": prefix,
            "max_attempts": MAX_ATTEMPTS,
            "retry_base_seconds": BASE_SECONDS,
        }
        return QueueSettings(**(values | overrides))

    async def make(*, opened: bool = True, drain_timeout: float = 10.0, **overrides: Any) -> Queue:
        settings = settings_with(**overrides)
        queue: Queue = (
            RabbitQueue(settings, drain_timeout=drain_timeout)
            if url
            else MemoryQueue(settings, broker=broker, drain_timeout=drain_timeout)
        )
        made.append(queue)
        if opened:
            await queue.open()
        return queue

    yield make
    for queue in made:
        await queue.close()
    for queue in made:
        if isinstance(queue, RabbitQueue) and queue.declared_queue_names:
            await queue.open()
            try:
                await queue.delete_queues()
            finally:
                await queue.close()


@pytest.fixture
async def queue(make_queue: QueueFactory) -> Queue:
    return await make_queue()


def test_open_queue_picks_the_adapter_by_url() -> None:
    assert open_queue(QueueSettings(url="")).name == "memory"
    assert open_queue(QueueSettings(url="amqp://guest:guest@127.0.0.1:5672/")).name == "rabbitmq"


async def test_round_trip_keeps_body_and_id(queue: Queue) -> None:
    received: list[Message] = []

    async def handler(message: Message) -> None:
        received.append(message)

    await queue.consume("orders", handler)
    body = {"order": 42, "items": [{"sku": "猫粮", "count": 2}], "note": None}
    message_id = await queue.publish("orders", body, message_id="order-42")
    generated_id = await queue.publish("orders", {"order": 43})
    await eventually(lambda: len(received) == 2)
    assert message_id == "order-42"
    assert received[0] == Message("orders", body, "order-42", 1)
    assert received[1].message_id == generated_id
    assert generated_id


async def test_many_messages_are_each_delivered_once(queue: Queue) -> None:
    seen: Counter[str] = Counter()

    async def handler(message: Message) -> None:
        await asyncio.sleep(0)  # let handlers interleave
        seen[message.message_id] += 1

    await queue.consume("bulk", handler)
    ids = [await queue.publish("bulk", {"n": n}) for n in range(200)]
    await eventually(lambda: len(seen) == 200)
    await asyncio.sleep(0.2)  # a duplicate delivery would show up by now
    assert set(seen) == set(ids)
    assert set(seen.values()) == {1}


async def test_a_failing_handler_is_retried_with_backoff(make_queue: QueueFactory) -> None:
    queue = await make_queue(retry_base_seconds=0.1)
    attempts: list[tuple[int, float]] = []
    succeeded = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def handler(message: Message) -> None:
        attempts.append((message.attempt, loop.time()))
        if message.attempt < 3:
            raise RuntimeError(f"transient failure {message.attempt}")
        succeeded.set()

    await queue.consume("flaky", handler)
    await queue.publish("flaky", {"x": 1}, message_id="flaky-1")
    async with asyncio.timeout(10):
        await succeeded.wait()
    assert [attempt for attempt, _ in attempts] == [1, 2, 3]
    first_wait, second_wait = attempts[1][1] - attempts[0][1], attempts[2][1] - attempts[1][1]
    assert first_wait >= 0.08  # 0.1 s backoff, loosely
    assert second_wait >= 0.16  # 0.2 s backoff, loosely
    await asyncio.sleep(0.3)
    assert len(attempts) == 3, "a successful delivery must not be retried"
    assert await queue.dead_letters("flaky") == []


async def test_a_message_that_always_fails_is_dead_lettered(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def handler(message: Message) -> None:
        calls.append(message.attempt)
        raise ValueError("never works")

    caplog.set_level(logging.WARNING, logger="mengchong.queue")
    await queue.consume("doomed", handler)
    await queue.publish("doomed", {"pet": "p1"}, message_id="doomed-1")
    dead = await dead_letters_eventually(queue, "doomed")
    assert dead == [Message("doomed", {"pet": "p1"}, "doomed-1", MAX_ATTEMPTS)]
    assert calls == [1, 2, 3]
    assert await queue.dead_letters("doomed") == [], "reading dead letters removes them"
    failures = [r for r in caplog.records if r.name == "mengchong.queue" and r.exc_info]
    assert len(failures) == MAX_ATTEMPTS
    assert all("doomed" in r.getMessage() and "doomed-1" in r.getMessage() for r in failures)
    assert "dead-lettered" in failures[-1].getMessage()


async def counts_become(queue: Queue, name: str, expected: QueueCounts, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while (counts := await queue.counts(name)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{counts} is not {expected}"
        await asyncio.sleep(0.02)


async def test_counts_tell_ready_waiting_for_a_retry_and_dead_apart(make_queue: QueueFactory) -> None:
    queue = await make_queue(retry_base_seconds=60)  # a failed message waits a minute: countable
    assert await queue.counts("tally") == QueueCounts(ready=0, waiting=0, dead=0)
    for n in range(3):
        await queue.publish("tally", {"n": n}, message_id=f"t{n}")
    await counts_become(queue, "tally", QueueCounts(ready=3, waiting=0, dead=0))

    handled: list[int] = []

    async def fails_the_first(message: Message) -> None:
        if message.body["n"] == 0:
            raise RuntimeError("later")
        handled.append(message.body["n"])

    await queue.consume("tally", fails_the_first)
    await counts_become(queue, "tally", QueueCounts(ready=0, waiting=1, dead=0))
    assert sorted(handled) == [1, 2]

    once = await make_queue(max_attempts=1)  # no retry: a failure is dead at once

    async def fails(message: Message) -> None:
        raise RuntimeError("never")

    await once.consume("buried", fails)
    await once.publish("buried", {"n": 1})
    await counts_become(once, "buried", QueueCounts(ready=0, waiting=0, dead=1))
    assert len(await once.dead_letters("buried")) == 1
    await counts_become(once, "buried", QueueCounts(ready=0, waiting=0, dead=0))


async def test_dead_letters_respects_the_limit(queue: Queue) -> None:
    async def handler(message: Message) -> None:
        raise RuntimeError("no")

    await queue.consume("limited", handler)
    for n in range(3):
        await queue.publish("limited", {"n": n}, message_id=f"m{n}")
    collected: list[Message] = []
    deadline = asyncio.get_running_loop().time() + 10
    while len(collected) < 3:
        batch = await queue.dead_letters("limited", limit=1)
        assert len(batch) <= 1
        collected += batch
        assert asyncio.get_running_loop().time() < deadline, "dead letters did not arrive"
        await asyncio.sleep(0.02)
    assert sorted(m.message_id for m in collected) == ["m0", "m1", "m2"]


async def test_messages_published_before_consume_survive_a_reconnect(make_queue: QueueFactory) -> None:
    """Publish, close the adapter, open a new one (on RabbitMQ: a new connection), then consume."""
    publisher = await make_queue()
    await publisher.publish("durable", {"kept": True}, message_id="d-1")
    await publisher.close()

    consumer = await make_queue()
    received: list[Message] = []

    async def handler(message: Message) -> None:
        received.append(message)

    await consumer.consume("durable", handler)
    await eventually(lambda: len(received) == 1)
    assert received == [Message("durable", {"kept": True}, "d-1", 1)]


async def test_close_waits_for_a_running_handler(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    started, finished = asyncio.Event(), asyncio.Event()
    deliveries: list[Message] = []

    async def slow(message: Message) -> None:
        deliveries.append(message)
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    await queue.consume("slow", slow)
    await queue.publish("slow", {"n": 1})
    async with asyncio.timeout(10):
        await started.wait()
    await queue.close()
    assert finished.is_set(), "close() returned before the running handler finished"

    # The finished handler's message was acknowledged: a new consumer never sees it again.
    again = await make_queue()
    await again.consume("slow", slow)
    await asyncio.sleep(0.3)
    assert len(deliveries) == 1


async def test_a_handler_cut_off_by_close_is_delivered_again(make_queue: QueueFactory) -> None:
    queue = await make_queue(drain_timeout=0.1)
    started = asyncio.Event()
    deliveries: list[Message] = []

    async def stuck(message: Message) -> None:
        deliveries.append(message)
        started.set()
        await asyncio.sleep(30)

    await queue.consume("stuck", stuck)
    await queue.publish("stuck", {"n": 1}, message_id="s-1")
    async with asyncio.timeout(10):
        await started.wait()
    async with asyncio.timeout(5):
        await queue.close()

    again = await make_queue()
    redelivered: list[Message] = []

    async def quick(message: Message) -> None:
        redelivered.append(message)

    await again.consume("stuck", quick)
    await eventually(lambda: len(redelivered) == 1)
    assert redelivered[0].message_id == "s-1"
    assert redelivered[0].attempt == 1, "an interrupted delivery is not a failed attempt"


async def test_handlers_run_in_the_context_of_consume(queue: Queue) -> None:
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
    seen: list[str] = []

    async def handler(message: Message) -> None:
        seen.append(tenant.get())

    token = tenant.set("activated")
    try:
        await queue.consume("ctx", handler)
    finally:
        tenant.reset(token)
    await queue.publish("ctx", {})
    await eventually(lambda: len(seen) == 1)
    assert seen == ["activated"]


async def test_publish_rejects_what_it_cannot_store(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    with pytest.raises(TypeError):
        await queue.publish("bad", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await queue.publish("bad", {"when": object()})
    closed = await make_queue(opened=False)
    with pytest.raises(RuntimeError, match="not open"):
        await closed.publish("bad", {})


async def test_ping_succeeds_on_a_reachable_broker(queue: Queue) -> None:
    await queue.ping()


@pytest.mark.services
async def test_delete_queues_removes_work_wait_and_dead_queues(amqp_url: str, queue_prefix: str) -> None:
    settings = QueueSettings(url=amqp_url, prefix=queue_prefix, max_attempts=3)
    first = RabbitQueue(settings)
    await first.open()
    try:
        await first.publish("gone", {"n": 1})
        names = first.declared_queue_names
    finally:
        await first.close()
    # A fresh adapter with the same settings finds the queues of a logical name (app-level cleanup).
    second = RabbitQueue(settings)
    await second.open()
    try:
        await second.delete_queues(["gone"])
    finally:
        await second.close()
    suffixes = ("", ".dead", ".retry.1000ms", ".retry.2000ms")
    assert names == {f"{queue_prefix}gone{suffix}" for suffix in suffixes}
    connection = await aio_pika.connect(amqp_url)
    try:
        for name in names:
            channel = await connection.channel()
            with pytest.raises(ChannelNotFoundEntity):
                await channel.declare_queue(name, passive=True)
    finally:
        await connection.close()


async def test_ping_and_open_fail_fast_on_an_unreachable_broker() -> None:
    queue = RabbitQueue(QueueSettings(url="amqp://guest:guest@127.0.0.1:1/"), connect_timeout=2)
    async with asyncio.timeout(5):
        with pytest.raises(QueueUnavailableError):
            await queue.ping()
        with pytest.raises(QueueUnavailableError):
            await queue.open()
