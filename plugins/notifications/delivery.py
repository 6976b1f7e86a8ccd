"""Notifications on their way to WeChat: :func:`enqueue` writes the log row and publishes its
queue message; :func:`deliver` (the queue consumer) sends it once.

1. :func:`enqueue` (an event handler, the reminder job, an admin) builds the message's data from
   the kind's template, writes a ``queued`` row keyed by the message's stable id and publishes
   ``{"log_id": ...}`` to the ``notifications.send`` queue under that id. A second enqueue of the
   same id finds the row: it publishes again only while the row is still queued (the first
   publish may have failed), and the consumer sends a row once whatever it receives.
2. :func:`deliver` takes the row (``queued`` only), checks the user's prefs, spends a grant and
   counts the attempt in one transaction; then calls ``subscribeMessage.send`` outside it; then
   records the outcome before the message is acknowledged. While it sends, the row is claimed
   (``claimed_until``): a second delivery of the same row meanwhile waits for the queue's retry
   rather than send too (at its last attempt it is queued afresh: a row is never left without a
   message), and takes over if the claim runs out (its holder died). A message
   delivered again after the record finds a final status and sends nothing. A crash between
   WeChat's answer and that record is the one case that sends twice: no system can tell it from
   a send that never left.
3. Transient failures (timeouts, 5xx, -1 busy, 45009 quota) raise, so the queue retries with
   backoff; at the last attempt the row becomes ``dead`` (an admin may retry it) and its grant
   is given back. 43101 (the user refused) spends the grant; 40003/47003 and other request
   errors fail at once and give it back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong import plugin_settings
from mengchong.accounts.profiles import json_column
from mengchong.accounts.schemas import DEFAULT_NOTIFICATION_PREFS
from mengchong.keys import database_key, queue_key, settings_key, wechat_key
from mengchong.storage.database import as_datetime, fetch_rows
from mengchong.storage.queue import Message
from mengchong.wechat import WechatError
from mengchong_plugins.notifications import grants
from mengchong_plugins.notifications.models import (
    DEAD,
    FAILED,
    MOCKED,
    QUEUED,
    REFUSED,
    SENT,
    SKIPPED,
)
from mengchong_plugins.notifications.settings import NotificationsSettings

log = logging.getLogger("mengchong.notifications")

QUEUE = "notifications.send"

_INSERT = (
    "INSERT INTO notification_logs (message_id, user_id, kind, template_id, page, data, status, reason, "
    "attempts, grant_spent, created_at, updated_at) "
    "SELECT $1, id, $2, $3, $4, $5, $6, $7, 0, FALSE, $8, $8 FROM users WHERE id = $9 "
    "ON CONFLICT (message_id) DO NOTHING RETURNING id, status"
)
_BY_MESSAGE = "SELECT id, status FROM notification_logs WHERE message_id = $1"
_TAKE = (
    "SELECT l.id, l.user_id, l.kind, l.template_id, l.page, l.data, l.status, l.grant_spent, "
    "l.attempts, l.claimed_until, u.openid, u.banned_at, s.notification_prefs "
    "FROM notification_logs l JOIN users u ON u.id = l.user_id "
    "LEFT JOIN user_settings s ON s.user_id = l.user_id WHERE l.id = $1"
)
_SET = (
    "UPDATE notification_logs SET status = $2, reason = $3, errcode = $4, attempts = $5, "
    "grant_spent = $6, updated_at = $7, sent_at = $8, claimed_until = $9 WHERE id = $1"
)


@dataclass(frozen=True)
class Queued:
    """What :func:`enqueue` did: the row's id and status (``None``: no row, see ``reason``), and
    whether this call wrote it (``created``; False when the message id had its row already)."""

    log_id: int | None
    status: str | None
    reason: str = ""
    created: bool = False


def settings_of(app: web.Application) -> NotificationsSettings:
    return plugin_settings(app, NotificationsSettings)


async def enqueue(
    app: web.Application, user_id: int, kind: str, data: dict[str, str], message_id: str
) -> Queued:
    """Write the notification's row (once per ``message_id``) and publish it for the consumer.

    ``data`` is the rendered WeChat data (``{"thing1": "..."}``). Returns the row; a kind that is
    off (no template id) writes nothing."""
    template = settings_of(app).templates[kind]
    if not template.enabled:
        return Queued(None, None, "kind_off")
    database = app[database_key]
    now = datetime.now(UTC)
    params = [message_id, kind, template.template_id, template.page, orjson.dumps(data).decode()]
    rows = await fetch_rows(database.connection, _INSERT, [*params, QUEUED, "", now, user_id])
    created = bool(rows)
    if not created:
        rows = await fetch_rows(database.connection, _BY_MESSAGE, [message_id])
        if not rows:
            return Queued(None, None, "no_user")
    log_id, status = int(rows[0]["id"]), str(rows[0]["status"])
    if status == QUEUED:
        await app[queue_key].publish(QUEUE, {"log_id": log_id}, message_id=message_id)
    return Queued(log_id, status, created=created)


async def republish(app: web.Application, log_id: int, message_id: str) -> None:
    """Publish a row again (an admin's retry; the row is ``queued`` again)."""
    await app[queue_key].publish(QUEUE, {"log_id": log_id}, message_id=message_id)


def unwanted(row: dict[str, Any], pref: str) -> str | None:
    """Why a user's row (``banned_at``, ``notification_prefs``) refuses a kind turned off by
    ``pref``: banned, or the pref off (one never saved has its default, as the user's settings
    show it); None when it does not."""
    if row["banned_at"] is not None:
        return "user_banned"
    if not {**DEFAULT_NOTIFICATION_PREFS, **json_column(row["notification_prefs"])}[pref]:
        return "pref_off"
    return None


async def _record(
    connection: BaseDBAsyncClient,
    row: dict[str, Any],
    status: str,
    *,
    reason: str = "",
    errcode: int | None = None,
    grant_spent: bool,
    claimed_until: datetime | None = None,
) -> None:
    now = datetime.now(UTC)
    sent_at = now if status in (SENT, MOCKED) else None
    params = [
        row["id"],
        status,
        reason[:200],
        errcode,
        row["attempts"],
        grant_spent,
        now,
        sent_at,
        claimed_until,
    ]
    await fetch_rows(connection, _SET, params)


async def _take(app: web.Application, log_id: int) -> dict[str, Any] | None:
    """The row, locked for this delivery, with its attempt counted and its grant spent; None when
    there is nothing to send (a final status, a skip recorded here)."""
    settings = settings_of(app)
    async with app[database_key].transaction() as connection:
        lock = " FOR UPDATE OF l" if connection.capabilities.dialect == "postgres" else ""
        rows = await fetch_rows(connection, _TAKE + lock, [log_id])
        if not rows or rows[0]["status"] != QUEUED:
            return None  # done already: a redelivery, or a row pruned since
        row = dict(rows[0])
        now = datetime.now(UTC)
        if row["claimed_until"] is not None and as_datetime(row["claimed_until"]) > now:
            # Another delivery of the same row is talking to WeChat: look again after the backoff
            # (if that delivery dies, its claim runs out and this one sends).
            raise Claimed("being sent by another delivery")
        template = settings.templates.get(row["kind"])
        reason = "kind_off" if template is None or not template.enabled else unwanted(row, template.pref)
        spendable = reason is None and not row["grant_spent"]
        if spendable and not await grants.spend(connection, row["user_id"], row["template_id"]):
            reason = "no_grant"
        if reason is not None:
            await _record(connection, row, SKIPPED, reason=reason, grant_spent=False)
            log.info("notification %s to user %s skipped: %s", row["id"], row["user_id"], reason)
            return None
        row["attempts"] += 1
        await _record(connection, row, QUEUED, grant_spent=True, claimed_until=now + _claim_time(app))
        return row


def _send_time(app: web.Application) -> float:
    """How long a send may take: a token refresh (under the token lock, up to two stable_token
    calls) and the send itself retried once after a refused token, each call tried twice within
    the WeChat timeout. The send is cut off there, so its claim never runs out while it is on."""
    return 8 * app[settings_key].wechat.timeout_seconds + 1


def _claim_time(app: web.Application) -> timedelta:
    return timedelta(seconds=_send_time(app) + 5)


async def deliver(app: web.Application, message: Message) -> None:
    """The consumer of ``notifications.send``: send the row once (see the module's docstring)."""
    log_id = int(message.body["log_id"])
    try:
        row = await _take(app, log_id)
    except Claimed:
        if message.attempt < app[settings_key].queue.max_attempts:
            raise
        # The queue would bury this message while the row is still owed, and if its holder died
        # nothing would send it: queue it afresh instead. Once the holder has recorded its
        # outcome (within the claim), the new message finds a final status.
        await republish(app, log_id, message.message_id)
        return
    if row is None:
        return
    wechat = app[wechat_key]
    data = json_column(row["data"])
    outcome: tuple[str, str, int | None, bool]  # status, reason, errcode, grant still spent
    if wechat.mock:
        outcome = (MOCKED, "wechat.mode is mock", None, True)
    else:
        try:
            async with asyncio.timeout(_send_time(app)):
                await wechat.send_subscribe_message(
                    row["openid"], row["template_id"], data, row["page"] or None
                )
            outcome = (SENT, "", 0, True)
        except WechatError as exc:
            outcome = _failure(app, exc, message.attempt)
        except Exception as exc:  # the token's cache or lock failed, or the time ran out: try again
            outcome = _failure(app, WechatError(-1, f"{type(exc).__name__}: {exc}"), message.attempt)
    status, reason, errcode, spent = outcome
    max_grants = settings_of(app).max_grants
    async with app[database_key].transaction() as connection:
        if not spent:
            await grants.refund(connection, row["user_id"], row["template_id"], max_grants)
        await _record(connection, row, status, reason=reason, errcode=errcode, grant_spent=spent)
    extra = {"notification": row["id"], "user_id": row["user_id"], "kind": row["kind"], "errcode": errcode}
    if status == QUEUED:
        log.warning("notification %s: %s; retrying", row["id"], reason, extra=extra)
        raise RetryLater(reason)
    log.info("notification %s %s", row["id"], status, extra=extra)


class RetryLater(Exception):
    """A transient failure: the queue delivers the message again after its backoff."""


class Claimed(RetryLater):
    """Another delivery of the row is talking to WeChat: look again after the backoff."""


def _failure(app: web.Application, exc: WechatError, attempt: int) -> tuple[str, str, int | None, bool]:
    """What a WeChat error makes of the row: (status, reason, errcode, grant still spent)."""
    reason = f"WeChat {exc.errcode}: {exc.errmsg}"
    if exc.refused:
        return REFUSED, reason, exc.errcode, True
    if not (exc.transient or exc.token_expired):  # a token still refused after a refresh: later
        return FAILED, reason, exc.errcode, False
    if attempt >= app[settings_key].queue.max_attempts:
        return DEAD, reason, exc.errcode, False
    return QUEUED, reason, exc.errcode, True
