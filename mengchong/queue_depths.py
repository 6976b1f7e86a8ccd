"""Queue depths on /metrics: every consumer's queue counted each ``queue.depth_interval_seconds``
into ``mengchong_queue_messages{queue, state}``, state ``ready`` (waiting for a consumer),
``waiting`` (for its next attempt) or ``dead`` (dead-lettered: an operator's to look at)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mengchong.app import queue_consumers
from mengchong.keys import metrics_key, queue_key, settings_key


async def count_queues(app: web.Application) -> None:
    """Count every consumer's queue once into the gauge."""
    queue, gauge = app[queue_key], app[metrics_key].queue_messages
    for name in dict.fromkeys(consumer.queue for consumer in queue_consumers(app)):
        counts = await queue.counts(name)
        gauge.labels(name, "ready").set(counts.ready)
        gauge.labels(name, "waiting").set(counts.waiting)
        gauge.labels(name, "dead").set(counts.dead)


async def run_queue_depths(app: web.Application) -> None:
    """The background task: count, then wait the interval."""
    interval = app[settings_key].queue.depth_interval_seconds
    while True:
        await count_queues(app)
        await asyncio.sleep(interval)
