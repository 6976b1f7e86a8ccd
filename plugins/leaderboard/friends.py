"""The friend graph (seed §5.6's friends' board needs it; WeChat gives no friend list): invite
codes a user shares, accepting one (which makes the inviter and the caller friends), the
caller's friends, and ending a friendship.

A friendship is two rows, (a, b) and (b, a), always written and deleted in one transaction.
Accepting is idempotent: friends already, the answer is the same and nothing is written. The
``max_friends`` limit holds under concurrency: an accept locks both users' rows (lower id first,
so two accepts of one pair never wait for each other) before it counts their friends; on SQLite
transactions already run one at a time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient

from mengchong import plugin_settings
from mengchong.http.errors import ApiError, ErrorCode, FieldError, field_error
from mengchong.http.pagination import Page
from mengchong.keys import clock_key, database_key
from mengchong.storage.database import as_datetime, fetch_rows
from mengchong_plugins.leaderboard.settings import LeaderboardSettings

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand
CODE_LENGTH = 8
CODE_MAX = 16  # the column's length: a longer code can't name an invite
CODE_ATTEMPTS = 5  # 32**8 codes: a second attempt is already a rarity

_INSERT_INVITE = (
    "INSERT INTO friend_invites (code, inviter_id, expires_at, created_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (code) DO NOTHING RETURNING id"
)
_INVITE = (
    "SELECT i.inviter_id, i.expires_at, u.nickname, u.avatar_url "
    "FROM friend_invites i JOIN users u ON u.id = i.inviter_id WHERE i.code = $1"
)
# NO KEY UPDATE, not UPDATE: a friendship row inserted by another transaction holds a KEY SHARE
# lock on its users (the foreign keys), which FOR UPDATE would wait for. ORDER BY: the rows are
# locked as they come out, so always the lower id first.
_LOCK_USERS = "SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE"
_SINCE = "SELECT created_at FROM friendships WHERE user_id = $1 AND friend_id = $2"
_COUNTS = "SELECT user_id, COUNT(*) AS friends FROM friendships WHERE user_id IN ($1, $2) GROUP BY user_id"
_INSERT_FRIENDSHIP = (
    "INSERT INTO friendships (user_id, friend_id, created_at) VALUES ($1, $2, $3), ($2, $1, $3) "
    "ON CONFLICT (user_id, friend_id) DO NOTHING"
)
_COUNT_FRIENDS = "SELECT COUNT(*) AS total FROM friendships WHERE user_id = $1"
_FRIENDS = (
    "SELECT f.friend_id, f.created_at, u.nickname, u.avatar_url "
    "FROM friendships f JOIN users u ON u.id = f.friend_id WHERE f.user_id = $1 "
    "ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3"
)
_DELETE = (
    "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1) "
    "RETURNING id"
)


@dataclass(frozen=True)
class Invite:
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Friend:
    """A friend as the caller sees them: who, and since when they are friends."""

    user_id: int
    nickname: str
    avatar_url: str
    since: datetime


def new_code() -> str:
    """A fresh random invite code: ``CODE_LENGTH`` characters of ``CODE_ALPHABET``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _utc(value: datetime | str) -> datetime:
    return as_datetime(value).astimezone(UTC)


async def create_invite(app: web.Application, user_id: int) -> Invite:
    """A new invite code of the user's, valid ``invite_days`` from now; 409 in the unlikely
    event that ``CODE_ATTEMPTS`` random codes in a row are all taken."""
    settings = plugin_settings(app, LeaderboardSettings)
    now = app[clock_key].now()
    expires_at = now + timedelta(days=settings.invite_days)
    connection = app[database_key].connection
    for _ in range(CODE_ATTEMPTS):
        code = new_code()
        if await fetch_rows(connection, _INSERT_INVITE, [code, user_id, expires_at, now]):
            return Invite(code, expires_at)
    raise ApiError(ErrorCode.CONFLICT, "Could not find a free invite code; try again")


def _unknown_code() -> ApiError:
    return ApiError(
        ErrorCode.NOT_FOUND,
        "Invite code not found or expired",
        [FieldError("code", "no such invite code, or it has expired")],
    )


async def accept_invite(app: web.Application, user_id: int, code: str) -> Friend:
    """Make the inviter of ``code`` and the user friends (both rows, one transaction), or answer
    the friendship as it is when they are friends already.

    Refusals (nothing changed): 400 naming ``code`` when it is not 1-16 characters or is the
    user's own, 404 when it is unknown or expired, 422 (42204) naming ``caller`` and/or
    ``inviter`` when either already has ``max_friends`` friends."""
    code = code.upper()
    if not 1 <= len(code) <= CODE_MAX:
        raise field_error("code", f"must be 1-{CODE_MAX} characters")
    settings = plugin_settings(app, LeaderboardSettings)
    async with app[database_key].transaction() as connection:
        rows = await fetch_rows(connection, _INVITE, [code])
        now = app[clock_key].now()
        if not rows or now >= _utc(rows[0]["expires_at"]):
            raise _unknown_code()
        invite = rows[0]
        inviter_id = int(invite["inviter_id"])
        if inviter_id == user_id:
            raise field_error("code", "is your own invite code: share it with someone else")
        if connection.capabilities.dialect == "postgres":  # SQLite: one writer at a time already
            locked = await fetch_rows(connection, _LOCK_USERS, [[user_id, inviter_id]])
            if len(locked) < 2:  # the inviter's account was deleted since the lookup
                raise _unknown_code()
        friend = Friend(inviter_id, invite["nickname"], invite["avatar_url"], now)
        known = await fetch_rows(connection, _SINCE, [user_id, inviter_id])
        if known:
            return Friend(friend.user_id, friend.nickname, friend.avatar_url, _utc(known[0]["created_at"]))
        await _check_limit(connection, user_id, inviter_id, settings.max_friends)
        await fetch_rows(connection, _INSERT_FRIENDSHIP, [user_id, inviter_id, now])
    return friend


async def _check_limit(connection: BaseDBAsyncClient, user_id: int, inviter_id: int, limit: int) -> None:
    """422 naming each side (``caller``, ``inviter``) that already has ``limit`` friends."""
    rows = await fetch_rows(connection, _COUNTS, [user_id, inviter_id])
    counts = {int(row["user_id"]): int(row["friends"]) for row in rows}
    full = []
    if counts.get(user_id, 0) >= limit:
        full.append(FieldError("caller", f"you already have {limit} friends, the most allowed"))
    if counts.get(inviter_id, 0) >= limit:
        full.append(FieldError("inviter", f"the inviter already has {limit} friends, the most allowed"))
    if full:
        who = " and ".join(error.field for error in full)
        raise ApiError(ErrorCode.LIMIT_REACHED, f"Limit reached: at most {limit} friends ({who})", full)


def _friend(row: dict[str, Any]) -> Friend:
    return Friend(int(row["friend_id"]), row["nickname"], row["avatar_url"], _utc(row["created_at"]))


async def list_friends(app: web.Application, user_id: int, page: Page) -> tuple[list[Friend], int]:
    """The user's friends, newest friendship first, and how many there are."""
    connection = app[database_key].connection
    total = int((await fetch_rows(connection, _COUNT_FRIENDS, [user_id]))[0]["total"])
    if total <= page.offset:
        return [], total
    rows = await fetch_rows(connection, _FRIENDS, [user_id, page.limit, page.offset])
    return [_friend(row) for row in rows], total


async def remove_friend(app: web.Application, user_id: int, friend_id: int) -> None:
    """End the friendship (both rows); 404 when the two are not friends."""
    async with app[database_key].transaction() as connection:
        if not await fetch_rows(connection, _DELETE, [user_id, friend_id]):
            raise ApiError(
                ErrorCode.NOT_FOUND,
                "Friend not found",
                [FieldError("user_id", "is not one of your friends")],
            )
