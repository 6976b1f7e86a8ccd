"""The daily check-in reminder: at ``reminder_time`` (app.timezone), every user who holds a grant
of the ``streak_reminder`` template, wants it (prefs) and has not checked in today is sent one.

Once per user and local day however many processes run the job: each reminder's message id is
``streak_reminder:<user>:<day>``, and the notification log's unique message id keeps the second
one out. The job looks at the clock every ``reminder_poll_seconds``; a process started after the
time (a restart that missed it) sends that day's reminders then, until the day ends. It needs the
check-in plugin, whose table says who checked in.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web

from mengchong.keys import clock_key, database_key, settings_key
from mengchong.storage.database import fetch_rows
from mengchong_plugins.notifications import delivery
from mengchong_plugins.notifications.messages import notify

log = logging.getLogger("mengchong.notifications")

KIND = "streak_reminder"

_DUE_USERS = (
    "SELECT g.user_id FROM notification_grants g JOIN users u ON u.id = g.user_id "
    "WHERE g.template_id = $1 AND g.count > 0 AND u.banned_at IS NULL AND g.user_id > $2 "
    "AND NOT EXISTS (SELECT 1 FROM checkin_logs c WHERE c.user_id = g.user_id AND c.day = $3) "
    "ORDER BY g.user_id LIMIT $4"
)


def due_day(now: datetime, timezone: str, at: time) -> date | None:
    """The local day whose reminders are due at ``now`` (None before ``at``)."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.date() if local.time() >= at else None


@dataclass
class Reminder:
    """The job of one process: remembers the last day it finished, so it scans once a day."""

    finished: date | None = None

    async def run(self, app: web.Application) -> None:
        settings = delivery.settings_of(app)
        while True:
            await self.remind_once(app)
            await asyncio.sleep(settings.reminder_poll_seconds)

    async def remind_once(self, app: web.Application) -> int:
        """Queue the due reminders not queued yet; returns how many this call queued."""
        settings = delivery.settings_of(app)
        template = settings.templates[KIND]
        day = due_day(app[clock_key].now(), app[settings_key].app.timezone, settings.reminder_time)
        if day is None or day == self.finished or not template.enabled:
            return 0
        queued, after = 0, 0
        while True:
            params = [template.template_id, after, day, settings.reminder_batch]
            rows = await fetch_rows(app[database_key].connection, _DUE_USERS, params)
            for row in rows:
                user_id = int(row["user_id"])
                result = await notify(
                    app, user_id, KIND, {"date": day.isoformat()}, f"{KIND}:{user_id}:{day}"
                )
                queued += result.created  # not a row another process (or an earlier run) queued
                after = user_id
            if len(rows) < settings.reminder_batch:
                break
        self.finished = day
        log.info("check-in reminders of %s: %d queued", day, queued, extra={"day": day.isoformat()})
        return queued
