"""Default plugin: the outbox relay and prune tasks, one queue consumer per event subscriber, and
the task counting every consumer's queue for /metrics."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from mengchong.hookspecs import hookimpl
from mengchong.keys import events_key
from mengchong.queue_depths import run_queue_depths
from mengchong.tasks import BackgroundTask, Consumer


@hookimpl
def mengchong_tasks(app: web.Application) -> Iterable[BackgroundTask]:
    bus = app[events_key]
    return [
        BackgroundTask("events.relay", bus.run_relay),
        BackgroundTask("events.prune", bus.run_prune),
        BackgroundTask("queue.depths", run_queue_depths),
    ]


@hookimpl
def mengchong_consumers(app: web.Application) -> Iterable[Consumer]:
    bus = app[events_key]
    return [bus.consumer(subscriber) for subscriber in bus.subscribers]
