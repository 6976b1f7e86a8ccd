"""The notifications' page of the operator console (:mod:`mengchong.backoffice`): the log, by
status and kind, and retrying a dead letter (or a failed or stuck row), one or every dead one,
through the same function as ``POST /v1/admin/notifications/{id}/retry``."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from mengchong.backoffice import Action, Change, Field, Section, Table
from mengchong.http.errors import ApiError, ErrorCode
from mengchong_plugins.notifications import service
from mengchong_plugins.notifications.models import DEAD, STATUSES, NotificationLog
from mengchong_plugins.notifications.settings import KINDS

COLUMNS = ("Id", "When", "User", "Kind", "Status", "Why")
RETRY_ALL_LIMIT = 500


async def logs_table(app: web.Application, filters: Mapping[str, str], offset: int, limit: int) -> Table:
    query = NotificationLog.all()
    if filters.get("status") in STATUSES:
        query = query.filter(status=filters["status"])
    if filters.get("kind") in KINDS:
        query = query.filter(kind=filters["kind"])
    rows = await query.order_by("-id").offset(offset).limit(limit)
    shown = [
        (row.id, row.created_at.strftime("%Y-%m-%d %H:%M"), row.user_id, row.kind, row.status, row.reason)  # type: ignore[attr-defined]
        for row in rows
    ]
    return Table(COLUMNS, shown, [str(row.id) for row in rows], await query.count())


async def retry_one(app: web.Application, values: Mapping[str, str]) -> Change:
    key = values["key"]
    if not key.isdigit():
        raise ApiError(ErrorCode.BAD_FIELD, "not a notification id")
    before = await service.get_log(app, int(key))
    after = await service.retry(app, int(key))
    return Change(
        f"notification:{key}",
        {"status": before["status"]},
        {"status": after["status"]},
        f"Notification {key} queued again",
    )


async def retry_dead(app: web.Application, values: Mapping[str, str]) -> Change:
    ids = (
        await NotificationLog.filter(status=DEAD)
        .order_by("id")
        .limit(RETRY_ALL_LIMIT)
        .values_list("id", flat=True)
    )
    for log_id in ids:
        await service.retry(app, log_id)
    return Change(
        "notifications:dead",
        {"dead": len(ids)},
        {"queued": len(ids)},
        f"{len(ids)} dead letters queued again",
    )


def sections(app: web.Application) -> list[Section]:
    return [
        Section(
            "notifications",
            "Notifications",
            logs_table,
            filters=(Field("status", "Status", "select", STATUSES), Field("kind", "Kind", "select", KINDS)),
            actions=(
                Action("retry-dead", "Retry every dead letter", retry_dead),
                Action("retry", "Retry", retry_one, per_row=True),
            ),
        )
    ]
