"""Run an event handler once per event, however often the event is delivered.

Delivery is at least once (a retry after a crash, a relay that ran twice). A handler wrapped in
:func:`once_per_event` runs in a transaction that first claims ``(handler, event id)`` in the
``processed_events`` table: a second delivery finds the claim and does nothing; a handler that
fails rolls its claim back with its own changes, so the retry runs it again. What the handler
writes through the connection it is given commits together with the claim: exactly once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong.events.bus import Event, EventHandler
from mengchong.keys import database_key
from mengchong.storage.database import fetch_rows

log = logging.getLogger("mengchong.events")

HANDLER_NAME_MAX = 100
_CLAIM = (
    "INSERT INTO processed_events (handler, event_id, processed_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (handler, event_id) DO NOTHING RETURNING id"
)

OnceHandler = Callable[[web.Application, Event, BaseDBAsyncClient], Awaitable[None]]


async def claim(connection: BaseDBAsyncClient, handler: str, event_id: str) -> bool:
    """True when this transaction is the first to handle the event (a concurrent claim of the same
    event waits for this transaction to end)."""
    return bool(await fetch_rows(connection, _CLAIM, [handler, event_id, datetime.now(UTC)]))


def once_per_event(handler: str) -> Callable[[OnceHandler], EventHandler]:
    """``@once_per_event("leaderboard.points")`` over ``async def f(app, event, connection)``."""
    if not 1 <= len(handler) <= HANDLER_NAME_MAX:
        raise ValueError(f"handler name must be 1-{HANDLER_NAME_MAX} characters, got {handler!r}")

    def decorate(function: OnceHandler) -> EventHandler:
        @functools.wraps(function)
        async def run(app: web.Application, event: Event) -> None:
            async with app[database_key].transaction() as connection:
                if not await claim(connection, handler, event.id):
                    log.info(
                        "%s already handled %s %s; skipped",
                        handler,
                        event.name,
                        event.id,
                        extra={"handler": handler, "event": event.name, "event_id": event.id},
                    )
                    return
                await function(app, event, connection)

        return run

    return decorate
