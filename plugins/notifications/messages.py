"""From a fact to a notification: the context a kind's template is filled from, the check that
the user wants it and may be sent it, and the hand-over to :func:`delivery.enqueue`.

Used by the event subscribers and the reminder job. A user without a grant for the template, or
who turned the kind off, gets no row: the log line says why (a check-in of someone who never
subscribed is not worth a row). The consumer checks both again when it sends.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from mengchong.keys import clock_key, database_key, settings_key
from mengchong.storage.database import fetch_rows
from mengchong_plugins.notifications import delivery
from mengchong_plugins.notifications.fields import FieldError, render

log = logging.getLogger("mengchong.notifications")

_WANTED = (
    "SELECT u.banned_at, g.count, s.notification_prefs FROM users u "
    "LEFT JOIN notification_grants g ON g.user_id = u.id AND g.template_id = $2 "
    "LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id = $1"
)


def local_time(app: web.Application, moment: datetime | None = None) -> str:
    """``YYYY-MM-DD HH:MM`` in app.timezone (WeChat's ``time`` fields take it)."""
    moment = moment or app[clock_key].now()
    return moment.astimezone(ZoneInfo(app[settings_key].app.timezone)).strftime("%Y-%m-%d %H:%M")


async def why_not(app: web.Application, user_id: int, kind: str) -> str | None:
    """Why ``user_id`` is not to be sent ``kind`` now (None: they are)."""
    template = delivery.settings_of(app).templates[kind]
    if not template.enabled:
        return "kind_off"
    rows = await fetch_rows(app[database_key].connection, _WANTED, [user_id, template.template_id])
    if not rows:
        return "no_user"
    row = rows[0]
    if (reason := delivery.unwanted(row, template.pref)) is not None:
        return reason
    if not row["count"]:
        return "no_grant"
    return None


async def notify(
    app: web.Application, user_id: int, kind: str, context: dict[str, Any], message_id: str
) -> delivery.Queued:
    """Queue ``kind`` for the user, its fields filled from ``context`` (plus ``time``), once per
    ``message_id``."""
    reason = await why_not(app, user_id, kind)
    if reason is not None:
        log.info("no %s for user %s: %s", kind, user_id, reason, extra={"kind": kind, "user_id": user_id})
        return delivery.Queued(None, None, reason)
    template = delivery.settings_of(app).templates[kind]
    try:
        data = render(template.fields, {"time": local_time(app), **context})
    except FieldError as exc:  # the config and the event disagree: an operator must look
        log.error(
            "no %s for user %s: %s", kind, user_id, exc.reason, extra={"kind": kind, "user_id": user_id}
        )
        return delivery.Queued(None, None, "bad_fields")
    return await delivery.enqueue(app, user_id, kind, data, message_id)
