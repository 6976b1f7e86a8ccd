"""The kernel's transaction on both profiles: writes deferred to the commit (the event outbox's
rows), savepoints that keep or drop them, a failing deferred write rolling everything back, and
the commit listeners called once, after the outermost commit, and the touched rows announced
to their table's listeners after it (and never after a rollback)."""

from __future__ import annotations

import pytest

from mengchong.accounts.models import User
from mengchong.events import PointsChanged, record_event
from mengchong.keys import database_key
from mengchong.storage.models import OutboxEvent
from mengchong.storage.transaction import defer_to_commit, notify_on_commit, touch
from support import settings_from


@pytest.fixture
async def database(profile, make_client):
    client = await make_client(settings_from(profile))
    database = client.server.app[database_key]
    with database.activate():
        yield database


def changed(user_id: int, delta: int) -> PointsChanged:
    return PointsChanged(user_id=user_id, delta=delta, balance=delta, reason="test", ref=None)


async def outbox() -> list[tuple[str, int]]:
    rows = await OutboxEvent.all().order_by("id")
    return [(row.name, row.payload["payload"]["delta"]) for row in rows]


async def test_events_are_written_together_at_the_commit_in_the_order_recorded(database):
    async with database.transaction() as connection:
        for delta in (1, 2, 3):
            await record_event(connection, changed(1, delta))
        # Not written yet: they go in with one statement just before the commit.
        assert await OutboxEvent.all().using_db(connection).count() == 0
    assert await outbox() == [("points.changed", 1), ("points.changed", 2), ("points.changed", 3)]


async def failing_savepoint(database) -> None:
    async with database.transaction() as inner:
        await record_event(inner, changed(1, 2))
        raise RuntimeError("the inner change failed")


async def test_a_savepoint_that_rolls_back_drops_its_events_and_keeps_the_outer_ones(database):
    async with database.transaction() as connection:
        await record_event(connection, changed(1, 1))
        with pytest.raises(RuntimeError):
            await failing_savepoint(database)
        await record_event(connection, changed(1, 3))
    assert await outbox() == [("points.changed", 1), ("points.changed", 3)]


async def failing_after_a_savepoint(database) -> None:
    async with database.transaction():
        async with database.transaction() as inner:
            await record_event(inner, changed(1, 2))
        raise RuntimeError("the outer change failed")


async def test_a_committed_savepoints_events_roll_back_with_the_outer_transaction(database):
    with pytest.raises(RuntimeError):
        await failing_after_a_savepoint(database)
    assert await outbox() == []
    async with database.transaction() as connection:
        async with database.transaction() as inner:
            await record_event(inner, changed(1, 2))
        await record_event(connection, changed(1, 4))
    assert await outbox() == [("points.changed", 2), ("points.changed", 4)]


async def test_a_deferred_write_that_fails_rolls_the_whole_transaction_back(database):
    async def failing_writer(connection, rows) -> None:
        raise RuntimeError(f"could not write {rows}")

    async def change() -> None:
        async with database.transaction() as connection:
            await User.create(openid="rolled-back", using_db=connection)
            await record_event(connection, changed(1, 1))
            assert defer_to_commit(connection, failing_writer, "row")

    with pytest.raises(RuntimeError, match="could not write"):
        await change()
    assert await User.filter(openid="rolled-back").count() == 0
    assert await outbox() == []


async def test_outside_a_transaction_nothing_is_deferred(database):
    assert not defer_to_commit(database.connection, lambda connection, rows: None, "row")  # type: ignore[arg-type,return-value]
    await record_event(database.connection, changed(1, 5))  # written at once
    assert await outbox() == [("points.changed", 5)]


async def test_commit_listeners_run_once_after_the_outermost_commit_and_never_after_a_rollback(database):
    calls: list[str] = []
    database.on_commit(lambda: calls.append("committed"))
    async with database.transaction():
        async with database.transaction():
            assert notify_on_commit()
        assert calls == []  # the savepoint's release is not the commit
    assert calls == ["committed"]

    async def rolled_back() -> None:
        async with database.transaction():
            notify_on_commit()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert calls == ["committed"]
    assert not notify_on_commit()


async def test_touched_rows_are_announced_once_after_the_outermost_commit(database):
    heard: list[tuple[str, frozenset[int]]] = []

    async def users(keys: frozenset[int]) -> None:
        assert await User.filter(openid="touched").count() == 1  # committed: visible to anyone
        heard.append(("users", keys))

    async def pets(keys: frozenset[int]) -> None:
        heard.append(("pets", keys))

    database.on_touched("users", users)
    database.on_touched("pets", pets)
    async with database.transaction() as connection:
        await User.create(openid="touched", using_db=connection)
        assert touch(connection, "users", 1)
        async with database.transaction() as inner:
            assert touch(inner, "users", 2)
            assert touch(inner, "users", 1)
        assert heard == []  # the savepoint's release is not the commit
    assert heard == [("users", frozenset({1, 2}))]


async def test_a_rollback_announces_nothing_and_a_rolled_back_savepoint_drops_its_rows(database):
    heard: list[frozenset[int]] = []

    async def users(keys: frozenset[int]) -> None:
        heard.append(keys)

    database.on_touched("users", users)

    async def rolled_back() -> None:
        async with database.transaction() as connection:
            touch(connection, "users", 1)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert heard == []

    async def failing_savepoint_touching() -> None:
        async with database.transaction() as inner:
            touch(inner, "users", 2)
            raise RuntimeError("the inner change failed")

    async with database.transaction() as connection:
        touch(connection, "users", 3)
        with pytest.raises(RuntimeError):
            await failing_savepoint_touching()
    assert heard == [frozenset({3})]
    assert not touch(database.connection, "users", 4)  # no transaction: the caller announces


async def test_a_failing_listener_is_logged_and_the_committed_write_stands(database, caplog):
    async def broken(keys: frozenset[int]) -> None:
        raise ConnectionError("cache unreachable")

    heard: list[frozenset[int]] = []

    async def after(keys: frozenset[int]) -> None:
        heard.append(keys)

    database.on_touched("users", broken)
    database.on_touched("users", after)
    async with database.transaction() as connection:
        await User.create(openid="stands", using_db=connection)
        touch(connection, "users", 7)
    assert await User.filter(openid="stands").count() == 1
    assert heard == [frozenset({7})]  # the next listener still heard
    assert "a listener of changed users rows failed" in caplog.text
