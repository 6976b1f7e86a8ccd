"""The task supervisor: a crashed background task is restarted; one stopped by a backend outage
is logged as one WARNING naming the backend (it happens every backoff while the backend is down),
anything else at ERROR with its traceback; a task that ignores its cancellation does not hold
the stop up."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.exceptions

from mengchong import tasks
from mengchong.http.metrics import Metrics
from mengchong.storage.database import Database
from mengchong.tasks import BackgroundTask, TaskSupervisor
from support import eventually


async def supervised(failure: Exception, caplog) -> list[logging.LogRecord]:
    runs: list[int] = []

    async def run(app) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise failure
        await asyncio.Event().wait()

    supervisor = TaskSupervisor(None, Database("sqlite://:memory:", []), Metrics())  # type: ignore[arg-type]
    supervisor.start(BackgroundTask("probe", run))
    try:
        with caplog.at_level(logging.WARNING, logger="mengchong.tasks"):
            await eventually(lambda: len(runs) == 2, timeout=10)  # restarted after a 1 s backoff
    finally:
        await supervisor.stop()
    return [record for record in caplog.records if record.name == "mengchong.tasks"]


async def test_an_outage_is_one_warning_naming_the_backend(caplog):
    records = await supervised(redis.exceptions.ConnectionError("Connection refused"), caplog)
    assert [(r.levelname, r.exc_info) for r in records] == [("WARNING", None)]
    assert "cache unavailable" in records[0].getMessage()


async def test_any_other_crash_is_an_error_with_its_traceback(caplog):
    records = await supervised(ValueError("a bug"), caplog)
    assert [r.levelname for r in records] == ["ERROR"]
    assert records[0].exc_info is not None


async def test_a_task_that_ignores_its_cancellation_is_named_and_left_behind(caplog, monkeypatch):
    monkeypatch.setattr(tasks, "STOP_GRACE_SECONDS", 0.2)
    release = asyncio.Event()

    async def stubborn(app) -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # the fault under test
                await asyncio.sleep(3600)

    async def obedient(app) -> None:
        await asyncio.Event().wait()

    supervisor = TaskSupervisor(None, Database("sqlite://:memory:", []), Metrics())  # type: ignore[arg-type]
    supervisor.start(BackgroundTask("stubborn", stubborn))
    supervisor.start(BackgroundTask("obedient", obedient))
    await asyncio.sleep(0)  # both are running
    with caplog.at_level(logging.ERROR, logger="mengchong.tasks"):
        async with asyncio.timeout(10):
            await supervisor.stop()
    assert supervisor.names == []
    assert [r.getMessage() for r in caplog.records if r.name == "mengchong.tasks"] == [
        "background task stubborn did not stop within 0.2 s of its cancellation"
    ]
    release.set()  # let it end, so that nothing outlives the test
    (left,) = [task for task in asyncio.all_tasks() if task.get_name() == "mengchong:stubborn"]
    left.cancel()
    await asyncio.wait([left], timeout=5)
    assert left.done()
