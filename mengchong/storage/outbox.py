"""Rows of the event outbox (``outbox_events``) as storage writes them: the event bus
(:mod:`mengchong.events.bus`) makes them and relays them, and the SQL documents store writes them
in the same statement as a document's update (``Collection.update(..., outbox=...)``), so a
change kept in a document and the events announcing it commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong.storage.database import fetch_rows

OutboxRow = tuple[str, str, str, datetime]
"""``(event_id, name, payload, created_at)``: the payload is the whole event as JSON text."""

COLUMNS = "event_id, name, payload, created_at, attempts"


async def insert_outbox_rows(connection: BaseDBAsyncClient, rows: Sequence[OutboxRow]) -> None:
    """One INSERT for every row (a raw statement: OutboxEvent.create was half of a check-in's
    time in its service)."""
    values = ", ".join(f"(${i + 1}, ${i + 2}, ${i + 3}, ${i + 4}, 0)" for i in range(0, 4 * len(rows), 4))
    sql = f"INSERT INTO outbox_events ({COLUMNS}) VALUES {values}"
    await fetch_rows(connection, sql, [value for row in rows for value in row])
