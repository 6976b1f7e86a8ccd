"""Default plugin: the outbox relay and prune tasks, and one queue consumer per event subscriber."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from mengchong.hookspecs import hookimpl
from mengchong.keys import events_key
from mengchong.tasks import BackgroundTask, Consumer


@hookimpl
def mengchong_tasks(app: web.Application) -> Iterable[BackgroundTask]:
    bus = app[events_key]
    return [BackgroundTask("events.relay", bus.run_relay), BackgroundTask("events.prune", bus.run_prune)]


@hookimpl
def mengchong_consumers(app: web.Application) -> Iterable[Consumer]:
    bus = app[events_key]
    return [bus.consumer(subscriber) for subscriber in bus.subscribers]
