"""What the notification routes do: consent (record and show grants), and the operators' send,
list and retry. Sending itself is :mod:`mengchong_plugins.notifications.delivery`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from mengchong.http.errors import ApiError, ErrorCode, conflict, field_error, not_found
from mengchong.http.pagination import Page
from mengchong.keys import database_key
from mengchong_plugins.notifications import delivery, grants
from mengchong_plugins.notifications.fields import FieldError, fit
from mengchong_plugins.notifications.models import QUEUED, RETRYABLE, NotificationLog


async def subscriptions(app: web.Application, user_id: int) -> list[dict[str, Any]]:
    """Every enabled template with how many messages of it the user may still be sent."""
    settings = delivery.settings_of(app)
    held = await grants.counts(app[database_key].connection, user_id)
    return [
        {
            "kind": kind,
            "template_id": template.template_id,
            "count": held.get(template.template_id, 0),
            "max": settings.max_grants,
        }
        for kind, template in settings.templates.items()
        if template.enabled
    ]


async def subscribe(
    app: web.Application, user_id: int, template_ids: list[str], results: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Record what the user accepted; a template id not in config is a 400 naming them all."""
    settings = delivery.settings_of(app)
    unknown = [tid for tid in dict.fromkeys(template_ids) if settings.template_of(tid) is None]
    if unknown:
        raise field_error("template_ids", f"not configured: {', '.join(unknown)}")
    async with app[database_key].transaction() as connection:
        await grants.record(connection, user_id, dict.fromkeys(template_ids), results, settings.max_grants)
    return await subscriptions(app, user_id)


def render_admin_data(app: web.Application, kind: str, data: Mapping[str, str]) -> dict[str, str]:
    """An operator's data for ``kind``: exactly the template's fields, each within WeChat's rules."""
    template = delivery.settings_of(app).templates[kind]
    if not template.enabled:
        raise ApiError(ErrorCode.UNPROCESSABLE, f"Notifications of kind {kind} are off (no template_id)")
    missing = [key for key in template.fields if key not in data]
    extra = [key for key in data if key not in template.fields]
    if missing or extra:
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(extra)}" if extra else "",
        ]
        raise field_error(
            "data",
            "; ".join(p for p in problems if p) + f" (the template's fields: {', '.join(template.fields)})",
        )
    try:
        return {key: fit(key, data[key]) for key in template.fields}
    except FieldError as exc:
        raise field_error(f"data.{exc.key}", exc.reason) from None


async def admin_send(
    app: web.Application, user_id: int, kind: str, data: Mapping[str, str]
) -> dict[str, Any]:
    rendered = render_admin_data(app, kind, data)
    queued = await delivery.enqueue(app, user_id, kind, rendered, f"admin:{uuid.uuid4().hex}")
    if queued.log_id is None:
        raise not_found("User")
    return await get_log(app, queued.log_id)


async def get_log(app: web.Application, log_id: int) -> dict[str, Any]:
    row = await NotificationLog.get_or_none(id=log_id)
    if row is None:
        raise not_found("Notification")
    return log_view(row)


async def list_logs(
    app: web.Application, page: Page, *, status: str | None, kind: str | None, user_id: int | None
) -> tuple[list[dict[str, Any]], int]:
    query = NotificationLog.all()
    if status is not None:
        query = query.filter(status=status)
    if kind is not None:
        query = query.filter(kind=kind)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    total = await query.count()
    rows = await query.order_by("-id").offset(page.offset).limit(page.limit)
    return [log_view(row) for row in rows], total


async def retry(app: web.Application, log_id: int) -> dict[str, Any]:
    """Queue a dead letter (or a failed or stuck row) again; 409 for one already delivered."""
    row = await NotificationLog.get_or_none(id=log_id)
    if row is None:
        raise not_found("Notification")
    updated = await NotificationLog.filter(id=log_id, status__in=sorted(RETRYABLE)).update(
        status=QUEUED, reason="", errcode=None, updated_at=datetime.now(UTC)
    )
    if not updated:
        raise conflict(
            f"Notification {log_id} is {row.status}: only {', '.join(sorted(RETRYABLE))} ones are retried"
        )
    await delivery.republish(app, log_id, row.message_id)
    return await get_log(app, log_id)


def log_view(row: NotificationLog) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "message_id": row.message_id,
        "user_id": str(row.user_id),  # type: ignore[attr-defined]
        "kind": row.kind,
        "template_id": row.template_id,
        "page": row.page,
        "data": row.data,
        "status": row.status,
        "reason": row.reason,
        "errcode": row.errcode,
        "attempts": row.attempts,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }
