"""Reading a board: which boards are served, which week is asked for, a page of a board with
the display data of its users and pets, and the caller's own rank.

A page of a stored board is one cache round trip (its size, its page and the caller's rank, in
one script on the cache's command lane), ONE documents call for its pets (pet_level) and ONE
users query for its users, whatever the page's length. The friends' board is not stored: the
caller and their friends, ranked by their counts on this week's ``weekly_interactions``
(absent: 0, still listed).

Privacy: a user whose ``privacy_prefs.show_on_leaderboard`` is false still ranks, but everyone
else sees them without nickname or avatar and with ``user_id`` :data:`HIDDEN_USER_ID`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from mengchong import plugin_settings
from mengchong.http.errors import ApiError, ErrorCode, FieldError, field_error
from mengchong.http.pagination import Page
from mengchong.keys import cache_key, clock_key, database_key, documents_key, settings_key
from mengchong.storage.database import fetch_rows
from mengchong_plugins.leaderboard import boards, scoring
from mengchong_plugins.leaderboard.graph import friend_ids
from mengchong_plugins.leaderboard.settings import LeaderboardSettings

HIDDEN_USER_ID = "hidden"
WEEKLY_BOARDS = frozenset({"weekly_interactions", "friend_interaction"})
PET_FIELDS = ["user_id", "name", "species"]
_PLAYERS = (
    "SELECT u.id, u.nickname, u.avatar_url, u.banned_at, s.privacy_prefs "
    "FROM users u LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id IN ({marks})"
)


@dataclass(frozen=True)
class Player:
    """A user as the boards show them."""

    user_id: int
    nickname: str
    avatar_url: str
    listed: bool
    """``privacy_prefs.show_on_leaderboard``: shown to everyone, not only to themselves."""
    banned: bool


@dataclass(frozen=True)
class Entry:
    """One line of a board: its rank (1-based, on the whole board), whose it is, its primary
    score as stored, and the pet's document for ``pet_level`` (None if it is gone)."""

    rank: int
    entry_id: str
    user_id: int | None
    score: float
    pet: dict[str, Any] | None = None


@dataclass(frozen=True)
class Mine:
    """The caller's place: their best pet's on ``pet_level`` (``entry_id`` is the pet's id)."""

    rank: int
    score: float
    entry_id: str


@dataclass(frozen=True)
class Board:
    board_type: str
    week: str | None
    entries: list[Entry]
    players: dict[int, Player]
    total: int
    page: Page
    mine: Mine | None
    viewer_id: int


def served_boards(app: web.Application) -> list[str]:
    return list(plugin_settings(app, LeaderboardSettings).boards)


def board_type_of(app: web.Application, name: str) -> str:
    """The board ``name`` if it is served; 404 naming the served ones otherwise."""
    served = served_boards(app)
    if name in served:
        return name
    known = ", ".join(served) or "none"
    raise ApiError(
        ErrorCode.NOT_FOUND,
        f"Leaderboard {name!r} not found; the leaderboards are: {known}",
        [FieldError("type", f"must be one of: {known}")],
    )


def current_week(app: web.Application) -> str:
    return scoring.week_of(app[clock_key].now(), app[settings_key].app.timezone)


def resolve_week(app: web.Application, board_type: str, week: str | None) -> str | None:
    """The week a weekly board is read for: ``week`` (already a well-formed ISO week) or this
    one. 400 for a week on another board, 404 for a week in the future or no longer kept."""
    if board_type not in WEEKLY_BOARDS:
        if week is not None:
            raise field_error(
                "week", "only the weekly boards (weekly_interactions, friend_interaction) take one"
            )
        return None
    current = current_week(app)
    if week is None:
        return current
    back = scoring.weeks_between(week, current)
    kept = plugin_settings(app, LeaderboardSettings).weeks_kept
    if back < 0:
        problem = f"{week} is in the future (this week is {current})"
    elif back >= kept:
        problem = f"{week} is no longer kept (the last {kept} weeks are, this one included)"
    else:
        return week
    raise ApiError(ErrorCode.NOT_FOUND, f"Week not found: {problem}", [FieldError("week", problem)])


def _prefs(value: Any) -> dict[str, Any]:
    """A JSON column as fetched: text (or bytes) on both drivers, NULL without a settings row."""
    if value is None:
        return {}
    loaded = orjson.loads(value) if isinstance(value, str | bytes) else value
    return loaded if isinstance(loaded, dict) else {}


async def players(app: web.Application, user_ids: Iterable[int]) -> dict[int, Player]:
    """The display data of the users, in ONE query."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    marks = ", ".join(f"${index}" for index in range(1, len(ids) + 1))
    rows = await fetch_rows(app[database_key].connection, _PLAYERS.format(marks=marks), ids)
    found = {}
    for row in rows:
        listed = _prefs(row["privacy_prefs"]).get("show_on_leaderboard", True) is not False
        user_id = int(row["id"])
        found[user_id] = Player(
            user_id, row["nickname"], row["avatar_url"], listed, row["banned_at"] is not None
        )
    return found


async def read_board(
    app: web.Application, board_type: str, viewer_id: int, page: Page, week: str | None = None
) -> Board:
    """A page of the board (``board_type`` is a served one) as ``viewer_id`` sees it."""
    resolved = resolve_week(app, board_type, week)
    if board_type == "friend_interaction":
        assert resolved is not None
        return await _friends_board(app, viewer_id, page, resolved)
    return await _stored_board(app, board_type, viewer_id, page, resolved)


async def _stored_board(
    app: web.Application, board_type: str, viewer_id: int, page: Page, week: str | None
) -> Board:
    cache = app[cache_key]
    keys = boards.board_keys(cache, board_type, week)
    pets = app[documents_key].collection("pets")
    if board_type == "pet_level":
        mine_ids = [pet["id"] for pet in await pets.find({"user_id": viewer_id}, fields=[])]
    else:
        mine_ids = [str(viewer_id)]
    total, flat, best = await cache.hot_script(boards.PAGE)(
        keys=[keys.board, keys.members], args=[page.offset, page.offset + page.limit - 1, *mine_ids]
    )
    ranked = [
        (page.offset + index + 1, scoring.member_id(member), float(score))
        for index, (member, score) in enumerate(zip(flat[::2], flat[1::2], strict=True))
    ]
    found = boards.decode_best(best)
    mine = Mine(found[0] + 1, found[1], found[2]) if found else None
    if board_type == "pet_level":
        documents = await pets.get_many([entry_id for _, entry_id, _ in ranked], fields=PET_FIELDS)
        entries = [
            Entry(rank, pet_id, _owner(documents.get(pet_id)), score, documents.get(pet_id))
            for rank, pet_id, score in ranked
        ]
    else:
        entries = [Entry(rank, entry_id, int(entry_id), score) for rank, entry_id, score in ranked]
    shown = await players(app, (entry.user_id for entry in entries if entry.user_id is not None))
    return Board(board_type, week, entries, shown, int(total), page, mine, viewer_id)


def _owner(pet: dict[str, Any] | None) -> int | None:
    return int(pet["user_id"]) if pet is not None and "user_id" in pet else None


async def _friends_board(app: web.Application, viewer_id: int, page: Page, week: str) -> Board:
    """The caller and their friends (banned ones left out), by their counts of ``week``:
    higher first, then who reached it first, then the user id."""
    cache = app[cache_key]
    candidates = list(dict.fromkeys([viewer_id, *await friend_ids(app, viewer_id)]))
    known = await players(app, candidates)
    listed = [uid for uid in candidates if uid in known and (uid == viewer_id or not known[uid].banned)]
    keys = boards.board_keys(cache, "weekly_interactions", week)
    scored = await boards.scores(cache, keys, [str(uid) for uid in listed])
    ordered = sorted(listed)
    # Stable sorts: by user id, then by member (the earlier reach first), then by score.
    ordered.sort(key=lambda uid: (scored[str(uid)][1], scored[str(uid)][0]), reverse=True)
    ranks = {uid: index + 1 for index, uid in enumerate(ordered)}
    window = ordered[page.offset : page.offset + page.limit]
    entries = [Entry(ranks[uid], str(uid), uid, scored[str(uid)][1]) for uid in window]
    mine = Mine(ranks[viewer_id], scored[str(viewer_id)][1], str(viewer_id)) if viewer_id in ranks else None
    shown = {uid: known[uid] for uid in window}
    return Board("friend_interaction", week, entries, shown, len(ordered), page, mine, viewer_id)
