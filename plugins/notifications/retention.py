"""Old notification rows go: final ones older than ``keep_days`` are deleted once a day, so the
log stays the size of its window. Queued rows stay whatever their age (they are still owed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp import web

from mengchong.keys import database_key
from mengchong.storage.database import fetch_rows
from mengchong_plugins.notifications.delivery import settings_of
from mengchong_plugins.notifications.models import QUEUED

PRUNE_INTERVAL_SECONDS = 86_400.0
_PRUNE = "DELETE FROM notification_logs WHERE created_at < $1 AND status <> $2"


async def prune_once(app: web.Application) -> None:
    before = datetime.now(UTC) - timedelta(days=settings_of(app).keep_days)
    await fetch_rows(app[database_key].connection, _PRUNE, [before, QUEUED])


async def run_prune(app: web.Application) -> None:
    while True:
        await prune_once(app)
        await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
