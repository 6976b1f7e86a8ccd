"""The audit log: every change made through the console, written in the change's own
transaction where the kernel lets it be (a points adjustment), right after it otherwise (a ban,
whose commit the kernel announces to the cache before returning)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong_plugins.console.models import AuditEntry, Operator


async def record(
    operator: Operator,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    connection: BaseDBAsyncClient | None = None,
) -> None:
    await AuditEntry.create(
        operator_id=operator.id,
        action=action,
        target=target,
        before=before,
        after=after,
        created_at=datetime.now(UTC),
        using_db=connection,
    )


async def page(offset: int, limit: int) -> tuple[list[AuditEntry], int]:
    """The newest entries first, with their operators, and how many there are."""
    entries = await AuditEntry.all().order_by("-id").offset(offset).limit(limit).select_related("operator")
    return entries, await AuditEntry.all().count()
