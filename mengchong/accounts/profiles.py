"""The caller's profile: one statement over the user's row and settings, or this process's copy
of it while the user's row version says the copy is current.

The version (:mod:`mengchong.storage.row_versions`) comes back from the auth guard's one Redis
round trip, so a profile read served from the copy makes no database query, and a revoked or
banned token is still refused on every request. Every write to a user's row or settings calls
:func:`~mengchong.storage.transaction.touch` with ``"users"`` inside its transaction: once it
commits, the version is deleted (and this process's copy dropped) before the writer answers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from aiohttp import web

from mengchong.accounts import schemas
from mengchong.http.envelope import ok_body
from mengchong.http.errors import not_found
from mengchong.keys import ROW_VERSION, database_key, user_rows_key
from mengchong.storage.cache import Cache
from mengchong.storage.database import Database, fetch_rows
from mengchong.storage.row_versions import RowVersions, VersionedCopies

USERS = "users"
"""The table name writers pass to :func:`~mengchong.storage.transaction.touch`."""

PROFILE_SQL = (
    "SELECT u.id, u.nickname, u.avatar_url, u.gender, u.birthday, u.points_balance, u.role,"
    " s.notification_prefs, s.privacy_prefs"
    " FROM users u LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id = $1"
)


class UserRows:
    """The users' row versions and this process's copies of their profiles."""

    def __init__(self, cache: Cache, database: Database, *, size: int, max_age_seconds: float) -> None:
        self.versions = RowVersions(cache, USERS)
        # The answer's bytes, not the dict: a tenth of the memory, and nothing to serialise.
        self.profiles: VersionedCopies[bytes] = VersionedCopies(size, max_age_seconds)
        database.on_touched(USERS, self.changed)

    def version_key(self, user_id: int) -> str:
        return self.versions.key(user_id)

    async def changed(self, user_ids: frozenset[Any]) -> None:
        """After a commit that changed these users' rows or settings."""
        self.profiles.drop(user_ids)  # first: this process is right even if Redis is not there
        await self.versions.forget(user_ids)


def json_column(value: Any) -> dict[str, bool]:
    """A JSON column as fetched: text on both drivers, NULL when the row is missing."""
    if value is None:
        return {}
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def settings_view(notification_prefs: dict[str, bool], privacy_prefs: dict[str, bool]) -> dict[str, Any]:
    """Saved settings over the defaults, so a key added later has a value for everyone."""
    return {
        "notification_prefs": {**schemas.DEFAULT_NOTIFICATION_PREFS, **notification_prefs},
        "privacy_prefs": {**schemas.DEFAULT_PRIVACY_PREFS, **privacy_prefs},
    }


async def profile_of(app: web.Application, user_id: int) -> dict[str, Any]:
    """The profile and settings in one statement, from the database."""
    rows = await fetch_rows(app[database_key].connection, PROFILE_SQL, [user_id])
    if not rows:
        raise not_found("User")
    row = rows[0]
    birthday = row["birthday"]
    return {
        "user_id": str(row["id"]),
        "nickname": row["nickname"],
        "avatar_url": row["avatar_url"],
        "gender": row["gender"],
        "birthday": birthday.isoformat() if isinstance(birthday, date) else birthday,
        "points_balance": row["points_balance"],
        "role": row["role"],
        **settings_view(json_column(row["notification_prefs"]), json_column(row["privacy_prefs"])),
    }


async def caller_row_version(request: web.Request, user_id: int) -> str:
    """The caller's row version: the one the guard's round trip carried, else asked for."""
    version = request.get(ROW_VERSION)
    if version is None:  # the guard's round trip did not carry it (in-process limits, a refill)
        version = await request.app[user_rows_key].versions.current(user_id)
    return version


async def profile_body(request: web.Request, user_id: int) -> bytes:
    """The caller's profile as a success envelope's bytes: the copy kept under the row's
    current version, else read and kept."""
    rows = request.app[user_rows_key]
    if rows.profiles.size <= 0:
        return ok_body(await profile_of(request.app, user_id))
    version = await caller_row_version(request, user_id)
    profile = rows.profiles.get(user_id, version)
    if profile is None:
        # Read after the version: a write committing meanwhile deletes that version after its
        # commit, so what is kept here under it is read again on the next request.
        profile = ok_body(await profile_of(request.app, user_id))
        # A copy of exactly its size: orjson's bytes keep the ~4 KiB block they were written
        # in, so 10,000 kept profiles took 42 MB instead of 6 MB.
        rows.profiles.put(user_id, version, memoryview(profile).tobytes())
    return profile
