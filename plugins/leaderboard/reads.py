"""Reading a board: which boards are served, which week is asked for, a page of a board with
the display data of its users and pets, and the caller's own rank.

A page of a stored board is one cache round trip (its size, its page and the caller's rank, in
one script on the cache's command lane), the caller's pets (pet_level), and the display of its
users and pets (:mod:`~mengchong_plugins.leaderboard.display`: kept in the process; what is not
costs ONE users query and ONE documents call, whatever the page's length). The friends' board
is not stored: the caller and their friends, ranked by their counts on this week's
``weekly_interactions`` (absent: 0, still listed).

Privacy: a user whose ``privacy_prefs.show_on_leaderboard`` is false still ranks, but everyone
else sees them without nickname or avatar and with ``user_id`` :data:`HIDDEN_USER_ID`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mengchong import plugin_settings
from mengchong.http.errors import ApiError, ErrorCode, FieldError, field_error
from mengchong.http.pagination import Page
from mengchong.keys import cache_key, clock_key, settings_key
from mengchong.storage.row_versions import new_version
from mengchong_plugins.leaderboard import boards, scoring
from mengchong_plugins.leaderboard.display import Player, kept_display_key
from mengchong_plugins.leaderboard.graph import friend_ids
from mengchong_plugins.leaderboard.settings import LeaderboardSettings

HIDDEN_USER_ID = "hidden"
WEEKLY_BOARDS = frozenset({"weekly_interactions", "friend_interaction"})


@dataclass(slots=True)
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


async def players(app: web.Application, user_ids: Iterable[int]) -> dict[int, Player]:
    """The display data of the users (kept copies, the rest in ONE query)."""
    return await app[kept_display_key].players_of(user_ids)


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
    kept = app[kept_display_key]
    keys = boards.board_keys(cache, board_type, week)
    script_keys = [keys.board, keys.members]
    if board_type == "pet_level":
        held, mine_ids = kept.held_pets(viewer_id)
        script_keys.append(kept.owned_versions.key(viewer_id))
    else:
        held, mine_ids = "", [str(viewer_id)]
    last = page.offset + page.limit - 1
    lines_of = "owner" if board_type == "pet_level" else "id"
    total, lines, best, version = await cache.hot_script(boards.PAGE)(
        keys=script_keys,
        args=[page.offset, last, held, new_version(), kept.users_version_prefix, lines_of, *mine_ids],
    )
    version = _text(version)
    if version != held:  # pet_level, the reader's pet ids not kept or changed since
        best = await boards.best_rank(cache, keys, await kept.pets_of(viewer_id, version))
    else:
        best = boards.decode_best(best)
    mine = Mine(best[0] + 1, best[1], best[2]) if best else None
    ranked: list[tuple[int, str, float, int | None]] = []
    known: dict[int, str] = {}  # the row version of each line's user, as the script answered
    fields = iter(lines)
    for rank, (entry_id, score, user, user_version) in enumerate(
        zip(fields, fields, fields, fields, strict=True), page.offset + 1
    ):
        user_id = int(user) if user else None
        if user_id is not None and user_version:
            known[user_id] = _text(user_version)
        ranked.append((rank, _text(entry_id), float(score), user_id))
    if board_type == "pet_level":
        cards = await kept.cards_of([entry_id for _, entry_id, _, _ in ranked])
        entries = [
            Entry(rank, pet_id, user_id or _owner(cards.get(pet_id)), score, cards.get(pet_id))
            for rank, pet_id, score, user_id in ranked
        ]
    else:
        entries = [Entry(rank, entry_id, user_id, score) for rank, entry_id, score, user_id in ranked]
    users = (entry.user_id for entry in entries if entry.user_id is not None)
    shown = await kept.players_of(users, known)
    return Board(board_type, week, entries, shown, int(total), page, mine, viewer_id)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
