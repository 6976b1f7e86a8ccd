"""Consent: the one-time subscribe messages a user accepted in ``wx.requestSubscribeMessage``,
counted per user and template. A send spends one grant (:func:`spend`); a send WeChat never
delivered gives it back (:func:`refund`). Counts are capped at ``max_grants``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong.storage.database import fetch_rows

ACCEPT = "accept"
RESULTS = ("accept", "reject", "ban", "filter")
"""What ``wx.requestSubscribeMessage`` answers per template id; only ``accept`` grants a message.
``ban`` (the user turned the template off in WeChat) also drops what the user had left."""

_ADD = (
    "INSERT INTO notification_grants (user_id, template_id, count, updated_at) "
    "SELECT id, $2, 1, $4 FROM users WHERE id = $1 "
    "ON CONFLICT (user_id, template_id) DO UPDATE "
    "SET count = MIN_OF(notification_grants.count + 1, $3), updated_at = excluded.updated_at "
    "RETURNING count"
)
_DROP = "UPDATE notification_grants SET count = 0, updated_at = $3 WHERE user_id = $1 AND template_id = $2"
_SPEND = (
    "UPDATE notification_grants SET count = count - 1, updated_at = $3 "
    "WHERE user_id = $1 AND template_id = $2 AND count > 0 RETURNING count"
)
_REFUND = (
    "UPDATE notification_grants SET count = MIN_OF(count + 1, $3), updated_at = $4 "
    "WHERE user_id = $1 AND template_id = $2"
)
_COUNTS = "SELECT template_id, count FROM notification_grants WHERE user_id = $1"


def _sql(connection: BaseDBAsyncClient, statement: str) -> str:
    # LEAST on PostgreSQL, the two-argument MIN on SQLite.
    least = "LEAST" if connection.capabilities.dialect == "postgres" else "MIN"
    return statement.replace("MIN_OF", least)


async def record(
    connection: BaseDBAsyncClient,
    user_id: int,
    template_ids: Iterable[str],
    results: Mapping[str, str],
    max_grants: int,
) -> None:
    """One grant more for each template the user accepted (each given once: ``template_ids`` has
    no duplicates); a template the user banned has its grants dropped. Without ``results`` every
    template in ``template_ids`` counts as accepted."""
    now = datetime.now(UTC)
    for template_id in template_ids:
        result = results.get(template_id, ACCEPT)
        if result == ACCEPT:
            # the first grant inserts 1 (max_grants >= 1), later ones add one up to the cap
            await fetch_rows(connection, _sql(connection, _ADD), [user_id, template_id, max_grants, now])
        elif result == "ban":
            await fetch_rows(connection, _DROP, [user_id, template_id, now])


async def counts(connection: BaseDBAsyncClient, user_id: int) -> dict[str, int]:
    """The user's grants left, by template id (templates never granted are absent)."""
    rows = await fetch_rows(connection, _COUNTS, [user_id])
    return {row["template_id"]: int(row["count"]) for row in rows}


async def spend(connection: BaseDBAsyncClient, user_id: int, template_id: str) -> bool:
    """Take one grant; False when the user has none left."""
    return bool(await fetch_rows(connection, _SPEND, [user_id, template_id, datetime.now(UTC)]))


async def refund(connection: BaseDBAsyncClient, user_id: int, template_id: str, max_grants: int) -> None:
    """Give back a grant spent on a message WeChat did not deliver."""
    await fetch_rows(
        connection, _sql(connection, _REFUND), [user_id, template_id, max_grants, datetime.now(UTC)]
    )
