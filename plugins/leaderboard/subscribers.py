"""The event handlers that keep the stored boards (:mod:`mengchong_plugins.leaderboard.boards`)
up to date, one subscriber (one queue) per concern:

- ``leaderboard.points``: ``points.changed`` sets the user's balance on ``user_points``;
- ``leaderboard.pets``: ``pet.adopted`` / ``pet.interacted`` / ``pet.leveled_up`` set the pet's
  level and experience on ``pet_level``;
- ``leaderboard.weekly``: ``pet.interacted`` counts one interaction on the week (local ISO week
  of the event's ``occurred_at`` in ``app.timezone``) of ``weekly_interactions``; also written
  when only ``friend_interaction`` is on, since the friends' board reads it;
- ``leaderboard.users``: ``user.banned`` / ``user.unbanned`` make the boards agree with the
  user's state in the database (see :func:`sync_user`).

Delivery is at least once and in any order, so every write is idempotent: a score is set, not
added, and only from an event not older than the last one applied; a weekly count counts each
event id once. A banned user's events are skipped. Only the boards in ``leaderboard.boards``
are written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from mengchong import plugin_settings
from mengchong.accounts.guard import auth_state_of
from mengchong.events import (
    PET_ADOPTED,
    PET_INTERACTED,
    PET_LEVELED_UP,
    Event,
    PetAdopted,
    PetInteracted,
    PetLeveledUp,
    PointsChanged,
    Subscriber,
    UserBanned,
    UserUnbanned,
)
from mengchong.keys import cache_key, clock_key, database_key, documents_key, settings_key
from mengchong.storage.database import as_datetime, fetch_rows
from mengchong_plugins.leaderboard import boards, scoring
from mengchong_plugins.leaderboard.display import kept_display_key
from mengchong_plugins.leaderboard.settings import LeaderboardSettings

log = logging.getLogger("mengchong.leaderboard")

PETS = "pets"
PET_STATE_FIELDS = ["level", "experience", "created_at", "last_interaction_at"]
_PET_EVENTS: dict[str, type[PetAdopted] | type[PetInteracted] | type[PetLeveledUp]] = {
    PET_ADOPTED: PetAdopted,
    PET_INTERACTED: PetInteracted,
    PET_LEVELED_UP: PetLeveledUp,
}
_USER_STATE = (
    "SELECT banned_at, points_balance, "
    "(SELECT MAX(created_at) FROM points_ledger WHERE user_id = $1) AS points_at "
    "FROM users WHERE id = $1"
)


def enabled_boards(app: web.Application) -> frozenset[str]:
    return frozenset(plugin_settings(app, LeaderboardSettings).boards)


def weekly_written(boards_on: frozenset[str]) -> bool:
    """The weekly counts are kept for the weekly board and for the friends' board."""
    return "weekly_interactions" in boards_on or "friend_interaction" in boards_on


async def is_active(app: web.Application, user_id: int) -> bool:
    """The user exists and is not banned: the auth state every request's guard reads (in Redis,
    published by a ban once committed; a query only when it is not there). Two queries per
    petting before."""
    state = await auth_state_of(app, user_id)
    return state is not None and not state.banned


async def on_points(app: web.Application, event: Event) -> None:
    """``points.changed``: the balance after the change, on ``user_points``."""
    points = event.data(PointsChanged)
    if "user_points" not in enabled_boards(app) or not await is_active(app, points.user_id):
        return
    cache = app[cache_key]
    keys = boards.board_keys(cache, "user_points")
    await boards.set_score(
        cache, keys, str(points.user_id), points.user_id, points.balance, event.occurred_at
    )


async def on_pet(app: web.Application, event: Event) -> None:
    """A pet event: the pet's level and experience after it, on ``pet_level``."""
    pet = event.data(_PET_EVENTS[event.name])
    if event.name == PetAdopted.NAME:  # before it is on the board: the readers' kept ids go
        await app[kept_display_key].owned_versions.forget(frozenset({pet.user_id}))
    if "pet_level" not in enabled_boards(app) or not await is_active(app, pet.user_id):
        return
    cache = app[cache_key]
    score = scoring.pet_score(pet.level, pet.experience)
    keys = boards.board_keys(cache, "pet_level")
    await boards.set_score(cache, keys, pet.pet_id, pet.user_id, score, event.occurred_at)


async def on_interaction(app: web.Application, event: Event) -> None:
    """``pet.interacted``: one more interaction of the user in the event's week, unless that
    week is no longer kept (``weeks_kept`` weeks after its end)."""
    interaction = event.data(PetInteracted)
    if not weekly_written(enabled_boards(app)) or not await is_active(app, interaction.user_id):
        return
    timezone = app[settings_key].app.timezone
    occurred = datetime.fromisoformat(event.occurred_at)
    week = scoring.week_of(occurred, timezone)
    weeks_kept = plugin_settings(app, LeaderboardSettings).weeks_kept
    ttl = scoring.week_ttl_seconds(week, timezone, weeks_kept, app[clock_key].now())
    if ttl <= 0:
        log.info("pet.interacted %s of week %s: that week is no longer kept", event.id, week)
        return
    cache = app[cache_key]
    keys = boards.board_keys(cache, "weekly_interactions", week)
    await boards.count_interaction(cache, keys, event.id, interaction.user_id, occurred, ttl)


# --- Bans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserState:
    banned: bool
    balance: int
    points_at: datetime | None
    """When the balance last changed (the latest ledger entry); None: it never did."""


async def user_state(app: web.Application, user_id: int) -> UserState | None:
    rows = await fetch_rows(app[database_key].connection, _USER_STATE, [user_id])
    if not rows:
        return None
    row = rows[0]
    points_at = as_datetime(row["points_at"]) if row["points_at"] is not None else None
    return UserState(row["banned_at"] is not None, int(row["points_balance"]), points_at)


async def on_user(app: web.Application, event: Event) -> None:
    """``user.banned`` / ``user.unbanned``: whichever comes, and in whatever order, the boards
    follow the user's state in the database now."""
    user_id = event.data(UserBanned if event.name == UserBanned.NAME else UserUnbanned).user_id
    await sync_user(app, user_id)


async def sync_user(app: web.Application, user_id: int) -> None:
    """A banned user leaves every board; a user who is not banned is put back.

    Putting back reads the databases: the balance from ``users``, the pets' level and experience
    from their documents. The weekly counts are not kept anywhere but on the boards, so they
    come back at the next ``mengchong leaderboard rebuild`` (which recounts the current week).
    """
    state = await user_state(app, user_id)
    if state is None:
        return
    cache = app[cache_key]
    if state.banned:
        await drop_user(app, user_id)
        return
    # Unblock first, then read: a change the block made an event skip is in what is read.
    await cache.client.srem(boards.banned_key(cache), user_id)
    state = await user_state(app, user_id)
    if state is None:
        return
    if state.banned:  # banned again meanwhile
        await drop_user(app, user_id)
        return
    await restore_user(app, user_id, state)


async def user_pets(app: web.Application, user_id: int, fields: list[str]) -> list[dict[str, Any]]:
    return await app[documents_key].collection(PETS).find({"user_id": user_id}, fields=fields)


async def drop_user(app: web.Application, user_id: int) -> None:
    """Block the user's events, then take their entry, their pets and their weekly entries of
    the kept weeks off every stored board (whether on or off: a board switched on later must
    not show them)."""
    cache = app[cache_key]
    await cache.client.sadd(boards.banned_key(cache), user_id)
    pets = await user_pets(app, user_id, [])
    settings = plugin_settings(app, LeaderboardSettings)
    current = scoring.week_of(app[clock_key].now(), app[settings_key].app.timezone)
    pipe = cache.client.pipeline(transaction=False)
    await boards.remove(cache, boards.board_keys(cache, "user_points"), [str(user_id)], client=pipe)
    await boards.remove(
        cache, boards.board_keys(cache, "pet_level"), [pet["id"] for pet in pets], client=pipe
    )
    for week in scoring.previous_weeks(current, settings.weeks_kept):
        keys = boards.board_keys(cache, "weekly_interactions", week)
        await boards.remove(cache, keys, [str(user_id)], client=pipe)
    await pipe.execute()
    log.info("user %s is banned: taken off the leaderboards", user_id, extra={"user_id": user_id})


async def restore_user(app: web.Application, user_id: int, state: UserState) -> None:
    """Put a user who is not banned back on ``user_points`` and ``pet_level`` from the databases
    (each entry's reach time is its data's: the latest ledger entry, the pet's last
    interaction). An event applied since is newer and is kept."""
    cache = app[cache_key]
    boards_on = enabled_boards(app)
    pipe = cache.client.pipeline(transaction=False)
    if "user_points" in boards_on and state.points_at is not None:
        keys = boards.board_keys(cache, "user_points")
        await boards.set_score(
            cache, keys, str(user_id), user_id, state.balance, state.points_at, client=pipe
        )
    if "pet_level" in boards_on:
        keys = boards.board_keys(cache, "pet_level")
        for pet in await user_pets(app, user_id, PET_STATE_FIELDS):
            reached = pet.get("last_interaction_at") or pet["created_at"]
            score = scoring.pet_score(int(pet["level"]), int(pet["experience"]))
            await boards.set_score(cache, keys, pet["id"], user_id, score, reached, client=pipe)
    await pipe.execute()
    log.info("user %s is not banned: back on the leaderboards", user_id, extra={"user_id": user_id})


def subscribers(app: web.Application) -> list[Subscriber]:
    """The plugin's subscribers: bans always; the others for the boards that are on."""
    boards_on = enabled_boards(app)
    found = [Subscriber("leaderboard.users", (UserBanned, UserUnbanned), on_user)]
    if "user_points" in boards_on:
        found.append(Subscriber("leaderboard.points", (PointsChanged,), on_points))
    if "pet_level" in boards_on:
        found.append(Subscriber("leaderboard.pets", (PetAdopted, PetInteracted, PetLeveledUp), on_pet))
    if weekly_written(boards_on):
        found.append(Subscriber("leaderboard.weekly", (PetInteracted,), on_interaction))
    return found
