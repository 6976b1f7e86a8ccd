"""The event bus on both profiles: events recorded with their change and delivered after commit,
one durable queue per subscriber (a failing handler is retried alone, then dead-lettered alone),
nothing on the request's path, nothing from a rolled-back change, once-per-event handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from mengchong import hookimpl
from mengchong.accounts.models import User
from mengchong.economy.points import change_points
from mengchong.events import Event, PointsChanged, Subscriber, once_per_event, record_event
from mengchong.keys import database_key, events_key, metrics_key, queue_key, tasks_key
from mengchong.storage.models import OutboxEvent, ProcessedEvent
from support import eventually, settings_from, track_queues


@dataclass
class Recorder:
    """A throwaway plugin with one subscriber of its own: it notes every delivery, fails the first
    ``fail_times`` of them, and waits for ``gate`` (when given) before returning."""

    name: str
    events: tuple = ()
    fail_times: int = 0
    gate: asyncio.Event | None = None
    calls: list[Event] = field(default_factory=list)
    finished: list[Event] = field(default_factory=list)

    @hookimpl
    def mengchong_subscribers(self, app):
        return [Subscriber(self.name, self.events, self.handle)]

    async def handle(self, app, event: Event) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.fail_times:
            raise RuntimeError(f"{self.name} fails delivery {len(self.calls)}")
        if self.gate is not None:
            await self.gate.wait()
        self.finished.append(event)


@pytest.fixture
async def started(profile, make_client, example_plugin_path):
    """``await started(*recorders, **example_settings)``: an app with the example plugin (its own
    subscriber ``example.seen`` of ``example.note_created``) and the given throwaway plugins."""
    import mengchong_example as example

    async def start(*recorders: Recorder, **example_settings):
        for recorder in recorders:
            recorder.events = recorder.events or (example.NoteCreated,)
        plugins = [("example", example), *[(r.name, r) for r in recorders]]
        client = await make_client(settings_from(profile, example=example_settings), plugins)
        return client, client.server.app, example

    return start


async def add_note(client, text: str = "hi") -> int:
    response = await client.post("/v1/example/notes", json={"text": text})
    assert response.status == 201, await response.text()
    return (await response.json())["data"]["id"]


async def test_an_event_recorded_with_its_change_reaches_its_subscriber_after_commit(started):
    client, app, example = await started()
    note_id = await add_note(client)
    await eventually(lambda: len(app[example.seen_events]) == 1)
    event = app[example.seen_events][0]
    assert (event.name, event.data(example.NoteCreated).note_id) == ("example.note_created", note_id)
    with app[database_key].activate():  # the relay marks the row after the queue confirmed it
        async with asyncio.timeout(10):
            while await OutboxEvent.filter(relayed_at=None).count():
                await asyncio.sleep(0.02)


async def test_a_rolled_back_change_delivers_nothing(started):
    client, app, example = await started()
    database = app[database_key]

    async def failing_change() -> None:
        async with database.transaction() as connection:
            await record_event(connection, example.NoteCreated(note_id=-1))
            raise RuntimeError("the change failed after the event was recorded")

    with database.activate():
        with pytest.raises(RuntimeError):
            await failing_change()
        assert await OutboxEvent.all().count() == 0
    marker = await add_note(client, "after")  # delivered: so the rolled-back one would have been
    await eventually(lambda: len(app[example.seen_events]) >= 1)
    await asyncio.sleep(0.2)
    assert [e.payload["note_id"] for e in app[example.seen_events]] == [marker]


async def test_a_failing_handler_is_retried_alone(started):
    flaky, steady = Recorder("test.flaky", fail_times=2), Recorder("test.steady")
    client, app, example = await started(flaky, steady)
    await add_note(client)
    await eventually(lambda: len(flaky.finished) == 1)
    await asyncio.sleep(0.3)  # time for any wrong redelivery to the others
    assert len(flaky.calls) == 3  # two failures, then success
    assert len({e.id for e in flaky.calls}) == 1
    assert len(steady.calls) == 1  # the others ran once
    assert len(app[example.seen_events]) == 1
    registry = app[metrics_key].registry
    labels = {"name": "example.note_created", "subscriber": "test.flaky"}
    assert registry.get_sample_value("mengchong_events_total", {**labels, "outcome": "failed"}) == 2
    assert registry.get_sample_value("mengchong_events_total", {**labels, "outcome": "ok"}) == 1


async def test_a_handler_failing_every_time_is_dead_lettered_on_its_own_queue(started):
    broken, steady = Recorder("test.flaky", fail_times=99), Recorder("test.steady")
    client, app, _ = await started(broken, steady)
    await add_note(client)
    queue = app[queue_key]
    dead: list = []

    async def collect() -> bool:
        dead.extend(await queue.dead_letters("events.test.flaky"))
        return bool(dead)

    async with asyncio.timeout(15):
        while not await collect():
            await asyncio.sleep(0.1)
    assert dead[0].message_id == broken.calls[0].id
    assert dead[0].attempt == 3  # queue.max_attempts in the test profile
    assert len(broken.calls) == 3
    assert len(steady.calls) == 1
    assert await queue.dead_letters("events.test.steady") == []


async def test_a_slow_handler_does_not_hold_up_the_response(started):
    gate = asyncio.Event()
    slow = Recorder("test.slow", gate=gate)
    client, _, _ = await started(slow)
    try:
        await add_note(client)  # answered while the handler below is still waiting
        await eventually(lambda: len(slow.calls) == 1)
        assert slow.finished == []
        await add_note(client)
    finally:
        gate.set()
    await eventually(lambda: len(slow.finished) == 2)


async def test_the_same_event_delivered_twice_is_handled_once(started):
    """At-least-once delivery (here: the relay sending the same row again) meets a handler wrapped
    in once_per_event: its database change is made once, also when both deliveries run at once."""

    @once_per_event("test.once")
    async def count_note(app, event, connection) -> None:
        await asyncio.sleep(0.05)  # both deliveries in flight together
        await User.create(openid=f"event:{event.id}", using_db=connection)

    once = Recorder("test.once")
    once.handle = count_note  # type: ignore[method-assign]
    client, app, _ = await started(once)
    bus, database = app[events_key], app[database_key]
    await add_note(client)
    with database.activate():
        async with asyncio.timeout(10):
            while await OutboxEvent.filter(relayed_at=None).count():
                await asyncio.sleep(0.02)
        await OutboxEvent.all().update(relayed_at=None)  # as if the relay had crashed before marking
        await bus.relay_once()
        await bus.relay_once()  # nothing left: marked again
        async with asyncio.timeout(10):
            while await ProcessedEvent.filter(handler="test.once").count() < 1:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # the duplicate deliveries have run by now
        assert await User.filter(openid__startswith="event:").count() == 1
        assert await ProcessedEvent.filter(handler="test.once").count() == 1


async def test_once_per_event_runs_a_failed_handler_again(started):
    """A handler that fails rolls back its claim with its change: the retry runs it."""
    attempts: list[int] = []

    @once_per_event("test.once")
    async def fail_first(app, event, connection) -> None:
        attempts.append(1)
        await User.create(openid=f"event:{event.id}", using_db=connection)
        if len(attempts) == 1:
            raise RuntimeError("first delivery fails after writing")

    once = Recorder("test.once")
    once.handle = fail_first  # type: ignore[method-assign]
    client, app, _ = await started(once)
    await add_note(client)
    await eventually(lambda: len(attempts) == 2)
    with app[database_key].activate():
        async with asyncio.timeout(10):
            while not await ProcessedEvent.filter(handler="test.once").count():
                await asyncio.sleep(0.02)
        assert await User.filter(openid__startswith="event:").count() == 1


async def test_change_points_in_a_callers_transaction_delivers_after_commit(started):
    """The caller's transaction holds ``points.changed`` until it commits: the handler reads the
    committed balance, and a caller that rolls back delivers nothing."""
    seen: list[tuple[PointsChanged, int]] = []

    async def on_points(app, event: Event) -> None:
        points = event.data(PointsChanged)
        user = await User.get(id=points.user_id)  # a connection of the consumer's own
        seen.append((points, user.points_balance))

    recorder = Recorder("test.points", events=(PointsChanged,))
    recorder.handle = on_points  # type: ignore[method-assign]
    _, app, _ = await started(recorder)
    database = app[database_key]

    async def failing_order(user_id: int) -> None:
        async with database.transaction() as connection:
            await change_points(connection, user_id, 5, "mall.order", "o-1")
            raise RuntimeError("the order failed")

    with database.activate():
        user = await User.create(openid="points-user")
        async with database.transaction() as connection:
            await change_points(connection, user.id, 7, "checkin", "2026-12-06")
            await asyncio.sleep(0.3)  # a relay running now must not see the uncommitted row
            assert seen == []
        with pytest.raises(RuntimeError):
            await failing_order(user.id)
    await eventually(lambda: len(seen) == 1)
    await asyncio.sleep(0.2)
    assert seen == [(PointsChanged(user.id, 7, 7, "checkin", "2026-12-06"), 7)]


async def test_publish_without_a_subscriber_writes_nothing(started):
    from mengchong.events import PetAdopted, UserCreated

    _, app, _ = await started()
    bus = app[events_key]
    with app[database_key].activate():
        await bus.publish(UserCreated(user_id=1, role="user"))  # nobody subscribes to it here
        assert await OutboxEvent.all().count() == 0
        await bus.publish(PetAdopted(1, "p1", "cat", "Mimi", 1, 0))  # example.seen subscribes
        assert await OutboxEvent.filter(name="pet.adopted").count() == 1


async def test_events_written_before_start_are_relayed_when_the_app_starts(
    profile, example_plugin_path, aiohttp_client
):
    """A crash after commit but before relaying loses nothing: the next start relays the row."""
    import mengchong_example as example

    from mengchong.app import create_app

    app = create_app(settings_from(profile), [("example", example)])
    database = app[database_key]
    await database.migrate()
    await database.open()
    with database.activate():
        async with database.transaction() as connection:
            pending = await record_event(connection, example.NoteCreated(note_id=7))
    await database.close()

    track_queues(app)
    await aiohttp_client(app)
    await eventually(lambda: [e.id for e in app[example.seen_events]] == [pending.id])


async def test_the_relay_stops_when_stopped_in_the_loop_turn_it_is_woken(profile, make_client):
    """A commit's wake and the shutdown's cancel in one turn of the loop: the relay still stops.
    (With asyncio.wait_for, Python 3.11 returned the wake, dropped the cancel, and shutdown
    waited for the relay for ever.)"""
    client = await make_client(settings_from(profile, events={"relay_interval_seconds": 60}))
    app = client.server.app
    bus = app[events_key]
    await eventually(lambda: bool(bus._wakeup._waiters))  # the relay is idle, waiting to be woken
    bus.wake()
    supervisor = app[tasks_key]
    async with asyncio.timeout(10):
        await supervisor.stop()
    assert supervisor.names == []


async def test_prune_removes_old_relayed_rows_and_marks_only(started):
    _, app, _ = await started()
    bus = app[events_key]
    old = datetime.now(UTC) - timedelta(days=8)
    with app[database_key].activate():
        await OutboxEvent.create(event_id="old-relayed", name="x.y", payload={}, relayed_at=old)
        await OutboxEvent.create(event_id="new-relayed", name="x.y", payload={}, relayed_at=datetime.now(UTC))
        await OutboxEvent.create(event_id="old-pending", name="x.y", payload={})
        await ProcessedEvent.create(handler="h", event_id="old", processed_at=old)
        await ProcessedEvent.create(handler="h", event_id="new", processed_at=datetime.now(UTC))
        await bus.prune_once()  # (the app's own prune task may have run just before: same result)
        assert sorted(await OutboxEvent.all().values_list("event_id", flat=True)) == [
            "new-relayed",
            "old-pending",
        ]
        assert await ProcessedEvent.all().values_list("event_id", flat=True) == ["new"]


async def test_events_are_stamped_with_the_apps_clock(profile, make_client, example_plugin_path):
    # A subscriber counting by day must agree with the plugins, which read the app's clock.
    import mengchong_example as example

    from mengchong.clock import ManualClock

    recorder = Recorder("test.stamps", events=(example.NoteCreated, PointsChanged))
    then = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    plugins = [("example", example), (recorder.name, recorder)]
    client = await make_client(settings_from(profile), plugins, clock=ManualClock(then))
    app = client.server.app
    await add_note(client)  # recorded in the note's transaction
    await app[events_key].publish(PointsChanged(user_id=1, delta=1, balance=1, reason="test", ref=None))
    await eventually(lambda: len(recorder.finished) == 2)
    assert {event.occurred_at for event in recorder.finished} == {then.isoformat()}
