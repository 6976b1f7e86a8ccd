"""Background tasks and queue consumers: started after the plugins' startup code; tasks are
restarted with backoff when they crash and cancelled (and awaited) first at shutdown, so they
never outlive the storage they use. Consumers are the queue port's: it retries and dead-letters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from mengchong.http.metrics import Metrics
from mengchong.storage.database import Database
from mengchong.storage.outage import find_outage
from mengchong.storage.queue import Handler

log = logging.getLogger("mengchong.tasks")

MAX_BACKOFF_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class BackgroundTask:
    """A long-running coroutine function of the app; ``restart`` says whether to revive it after a crash."""

    name: str
    run: Callable[[web.Application], Awaitable[None]]
    restart: bool = True


@dataclass(frozen=True)
class Consumer:
    """A handler of one queue of the queue port; ``handle`` raising means retry (then dead letters)."""

    queue: str
    handle: Handler


class TaskSupervisor:
    """Runs background tasks with the database context active."""

    def __init__(self, app: web.Application, database: Database, metrics: Metrics) -> None:
        self._app = app
        self._database = database
        self._metrics = metrics
        self._running: dict[str, asyncio.Task[None]] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._running)

    def start(self, task: BackgroundTask) -> None:
        if task.name in self._running:
            raise ValueError(f"background task {task.name!r} is already running")
        self._running[task.name] = asyncio.create_task(self._supervise(task), name=f"mengchong:{task.name}")

    async def _supervise(self, task: BackgroundTask) -> None:
        backoff = 1.0
        while True:
            try:
                with self._database.activate():
                    await task.run(self._app)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if (outage := find_outage(exc)) is not None:  # expected while a backend is down
                    log.warning(
                        "background task %s stopped: %s unavailable (%s); restarting",
                        task.name,
                        outage[0],
                        type(outage[1]).__name__,
                        extra={"task": task.name, "backend": outage[0]},
                    )
                else:
                    log.exception("background task %s crashed", task.name, extra={"task": task.name})
                if not task.restart:
                    return
                self._metrics.task_restarts.labels(task.name).inc()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def stop(self) -> None:
        """Cancel every task and wait for them, at most :data:`STOP_GRACE_SECONDS`: one that
        does not end (it caught its cancellation) is logged by name and left behind, so that
        shutdown still closes the storage and the process exits."""
        running, self._running = self._running, {}
        for task in running.values():
            task.cancel()
        if not running:
            return
        _done, pending = await asyncio.wait(running.values(), timeout=STOP_GRACE_SECONDS)
        for name, task in running.items():
            if task in pending:
                log.error(
                    "background task %s did not stop within %s s of its cancellation",
                    name,
                    STOP_GRACE_SECONDS,
                    extra={"task": name},
                )
