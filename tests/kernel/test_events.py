"""The event bus on both profiles: in-process publish, the transactional outbox relayed through
the queue, rollbacks that publish nothing, retries and dead letters for failing handlers."""

from __future__ import annotations

import asyncio

import pytest

from mengchong.events import EVENTS_QUEUE
from mengchong.keys import database_key, events_key, metrics_key, queue_key
from mengchong.storage.models import OutboxEvent
from support import eventually, settings_from


@pytest.fixture
async def started(profile, make_client, example_plugin_path):
    import mengchong_example as example

    async def start(**example_settings):
        settings = settings_from(profile, example=example_settings)
        client = await make_client(settings, [("example", example)])
        return client, client.server.app, example

    return start


async def test_publish_dispatches_at_once(started):
    _, app, example = await started()
    event = await app[events_key].publish("thing.happened", {"n": 1})
    assert app[example.seen_events] == [event]


async def test_recorded_events_reach_handlers_through_the_outbox_and_queue(started):
    _, app, example = await started()
    bus, database = app[events_key], app[database_key]
    with database.activate():
        async with database.transaction() as connection:
            events = [
                await bus.record("order.created", {"order": n}, connection=connection) for n in range(5)
            ]
        bus.wake()
        await eventually(lambda: len(app[example.seen_events]) == 5)
        assert [e.id for e in app[example.seen_events]] == [e.id for e in events]
        # The relay marks rows relayed after the queue confirmed them, and a consumer may see the
        # events before that mark commits: wait for it rather than race it.
        async with asyncio.timeout(10):
            while await OutboxEvent.filter(relayed_at=None).count():
                await asyncio.sleep(0.02)


async def test_a_rolled_back_transaction_publishes_nothing(started):
    _, app, example = await started()
    bus, database = app[events_key], app[database_key]
    with database.activate():

        async def failing_change() -> None:
            async with database.transaction() as connection:
                await bus.record("order.created", {"order": 1}, connection=connection)
                raise RuntimeError("payment step failed")

        with pytest.raises(RuntimeError):
            await failing_change()
        assert await OutboxEvent.all().count() == 0
    await bus.publish("marker", {})
    await eventually(lambda: bool(app[example.seen_events]))  # dispatching works, and then:
    assert [e.name for e in app[example.seen_events]] == ["marker"]


async def test_events_written_before_start_are_relayed_when_the_app_starts(
    profile, example_plugin_path, aiohttp_client
):
    """A crash after commit but before dispatch loses nothing: the next start relays the row."""
    import mengchong_example as example

    from mengchong.app import create_app
    from mengchong.events import Event

    settings = settings_from(profile)
    app = create_app(settings, [("example", example)])
    database = app[database_key]
    await database.migrate()
    await database.open()
    with database.activate():
        pending = Event("checkin.completed", {"user": 7})
        await OutboxEvent.create(event_id=pending.id, name=pending.name, payload=pending.as_dict())
    await database.close()

    await aiohttp_client(app)
    await eventually(lambda: [e.id for e in app[example.seen_events]] == [pending.id])


async def test_a_failing_handler_is_retried_then_dead_lettered(started):
    _, app, _ = await started(fail_events=True)
    bus, database, queue = app[events_key], app[database_key], app[queue_key]
    with database.activate():
        async with database.transaction() as connection:
            event = await bus.record("pet.adopted", {"pet": "p1"}, connection=connection)
    bus.wake()
    dead: list = []

    async def collect() -> bool:
        dead.extend(await queue.dead_letters(EVENTS_QUEUE))
        return bool(dead)

    deadline = asyncio.get_running_loop().time() + 15
    while not await collect():
        assert asyncio.get_running_loop().time() < deadline, "event never dead-lettered"
        await asyncio.sleep(0.1)
    assert dead[0].message_id == event.id
    assert dead[0].attempt == 3  # queue.max_attempts in the test profile
    registry = app[metrics_key].registry
    assert (
        registry.get_sample_value("mengchong_events_total", {"name": "pet.adopted", "outcome": "failed"}) == 3
    )
