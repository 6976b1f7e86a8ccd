"""What the console's pages read and do, over the kernel's own services (the same ones the admin
API uses): users and their points, items and bans, and the dashboard's numbers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from tortoise.expressions import Q
from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from mengchong.accounts.login import revoke_tokens
from mengchong.accounts.models import User
from mengchong.backoffice import Figure, Table, UserPanel
from mengchong.clock import local_day, start_of_local_day
from mengchong.economy.inventory import list_items
from mengchong.economy.models import PointsLedgerEntry
from mengchong.economy.points import LedgerResult, adjust_points
from mengchong.keys import clock_key, database_key, metrics_key, plugin_manager_key, settings_key
from mengchong.plugin_manager import hook_items
from mengchong_plugins.console import audit
from mengchong_plugins.console.models import Operator

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Numbers:
    """The dashboard's figures."""

    users: int
    users_today: int
    users_7_days: int
    points_granted_today: int
    points_spent_today: int
    queues: list[dict[str, Any]]
    outbox_lag_seconds: float
    figures: list[tuple[str, int]]


async def search_users(query: str) -> list[User]:
    """Users whose id is ``query``, or whose openid or nickname holds it (newest first)."""
    query = query.strip()
    if not query:
        return await User.all().order_by("-id").limit(SEARCH_LIMIT)
    matches = Q(openid__icontains=query) | Q(nickname__icontains=query)
    if query.isdigit() and len(query) <= 18:
        matches |= Q(id=int(query))
    return await User.filter(matches).order_by("-id").limit(SEARCH_LIMIT)


async def ledger_page(user_id: int, offset: int, limit: int) -> tuple[list[PointsLedgerEntry], int]:
    entries = PointsLedgerEntry.filter(user_id=user_id)
    return await entries.order_by("-id").offset(offset).limit(limit), await entries.count()


async def inventory(app: web.Application, user_id: int) -> list[dict[str, Any]]:
    return await list_items(app[database_key].connection, user_id)


async def set_banned(app: web.Application, operator: Operator, user: User, banned: bool) -> None:
    """Ban or lift the ban as the admin API does (every token of the user stops working)."""
    await revoke_tokens(app, user.id, ban=banned)
    action = "user.ban" if banned else "user.unban"
    await audit.record(
        operator, action, f"user:{user.id}", {"banned": user.banned_at is not None}, {"banned": banned}
    )


async def adjust(
    app: web.Application, operator: Operator, user_id: int, delta: int, reason: str, form_key: str
) -> LedgerResult:
    """Change the user's points under the form's idempotency key: a form sent twice (a double
    click, a reload) changes them once. The audit entry is written in the change's transaction."""
    database = app[database_key]
    ref = f"console:{uuid.UUID(form_key).hex}"
    async with database.transaction() as connection:
        result = await adjust_points(database, user_id, delta, reason, ref, ref_field="form")
        if result.applied:
            before = {"balance": result.balance - result.delta}
            after = {"balance": result.balance, "delta": result.delta, "reason": reason}
            await audit.record(
                operator, "points.adjust", f"user:{user_id}", before, after, connection=connection
            )
    return result


async def total_of(entries: QuerySet[PointsLedgerEntry]) -> int:
    """The sum of the entries' deltas (0 for none)."""
    row = await entries.annotate(total=Sum("delta")).first().values("total")
    return int((row or {}).get("total") or 0)


async def numbers(app: web.Application) -> Numbers:
    now = app[clock_key].now()
    timezone = app[settings_key].app.timezone
    today = start_of_local_day(local_day(now, timezone), timezone)
    week = start_of_local_day(local_day(now - timedelta(days=6), timezone), timezone)
    granted = await total_of(PointsLedgerEntry.filter(created_at__gte=today, delta__gt=0))
    spent = await total_of(PointsLedgerEntry.filter(created_at__gte=today, delta__lt=0))
    metrics = app[metrics_key]
    queues: dict[str, dict[str, Any]] = {}
    for family in metrics.queue_messages.collect():
        for sample in family.samples:
            queues.setdefault(sample.labels["queue"], {"queue": sample.labels["queue"]})[
                sample.labels["state"]
            ] = int(sample.value)
    lag = next(iter(metrics.outbox_lag.collect())).samples[0].value
    return Numbers(
        users=await User.all().count(),
        users_today=await User.filter(created_at__gte=today).count(),
        users_7_days=await User.filter(created_at__gte=week).count(),
        points_granted_today=granted,
        points_spent_today=-spent,
        queues=sorted(queues.values(), key=lambda row: row["queue"]),
        outbox_lag_seconds=lag,
        figures=[(figure.label, await figure.read(app)) for figure in figures_of(app)],
    )


def figures_of(app: web.Application) -> list[Figure]:
    return hook_items(app[plugin_manager_key], "mengchong_console_figures", app=app)


async def user_panels(app: web.Application, user_id: int) -> list[tuple[str, Table]]:
    """The plugins' tables for the user's page (their pets, say)."""
    panels: list[UserPanel] = hook_items(app[plugin_manager_key], "mengchong_console_user_panels", app=app)
    return [(panel.title, await panel.read(app, user_id)) for panel in panels]
