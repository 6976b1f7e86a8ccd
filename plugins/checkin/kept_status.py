"""The caller's check-in status kept in the process, so that a warm ``GET /v1/checkin/status``
reads no database.

A status is the bytes of its answer, kept per user under the user's row version (which the auth
guard reads in its round trip anyway) together with the local day and the ``month`` it was made
for. Every write a status shows deletes that version after its commit: a check-in or a make-up
changes the user's points, and the make-up cards counted are inventory, whose every change
touches the user's row too (:mod:`mengchong.economy.inventory`). A status of another day (the
streak, the calendar and the rewards ahead move at local midnight) or month is made again.
Bounded by ``cache.profiles`` users, each kept at most ``cache.profile_max_age_seconds``.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from mengchong.accounts.profiles import caller_row_version
from mengchong.http.envelope import ok_body
from mengchong.keys import settings_key
from mengchong.storage.row_versions import VersionedCopies
from mengchong_plugins.checkin import service, views

KeptStatus = tuple[date, str | None, bytes]
"""The local day and the ``month`` asked for a status was made for, and its answer's bytes."""

kept_statuses_key: web.AppKey[VersionedCopies[KeptStatus]] = web.AppKey(
    "checkin.kept_statuses", VersionedCopies
)


def kept_statuses(app: web.Application) -> VersionedCopies[KeptStatus]:
    cache = app[settings_key].cache
    return VersionedCopies(cache.profiles, cache.profile_max_age_seconds)


async def status_body(request: web.Request, user_id: int, month: str | None) -> bytes:
    """The caller's status as a success envelope's bytes: the copy kept under the user's current
    version for today and ``month``, else made and kept."""
    app = request.app
    kept = app[kept_statuses_key]
    if kept.size <= 0:
        return ok_body(views.status_view(await service.checkin_status(app, user_id, month)))
    version = await caller_row_version(request, user_id)
    today, _ = service.today_of(app)
    held = kept.get(user_id, version)
    if held is not None and held[0] == today and held[1] == month:
        return held[2]
    # Read after the version: a write committing meanwhile deletes it, so what is kept under it
    # is made again on the next request.
    status = await service.checkin_status(app, user_id, month)
    body = ok_body(views.status_view(status))
    kept.put(user_id, version, (status.today, month, memoryview(body).tobytes()))
    return body
