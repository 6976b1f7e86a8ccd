"""``mengchong leaderboard rebuild [TYPE]``: recompute the stored boards from the databases (the
cache is never the truth), e.g. after the cache was flushed or a board was switched on.

Each board is read in batches of ``rebuild_batch`` into a new key (``<board>:next``), which is
renamed over the board when complete: readers never see a half board. Banned users are left
out. Reach times (the tie-break) come from the data: a user's latest ledger entry, a pet's last
interaction (or its adoption), a user's newest interaction of the week.

- ``user_points``: users with a ledger entry, by id (keyset pages);
- ``pet_level``: every pet, ``find(sort=[("id", 1)], skip, limit)``;
- ``weekly_interactions`` (also for ``friend_interaction``, which reads it): this week's
  interactions (``pet_interactions``), newest first, until one is older than the week's start.

Events keep coming meanwhile. While a board is rebuilt its ``<board>:rebuilding`` key holds the
rebuild's start (epoch ms), and every event is written into both boards by the same script, the
newest state winning (:mod:`mengchong_plugins.leaderboard.boards`), so no change is lost by the
rename. A weekly board's rebuild counts the interactions up to its start and the events after it;
an interaction in flight at that very instant can be counted twice. One rebuild of a board at a
time (a lock held up to :data:`REBUILD_SECONDS`); the interactions' scan keeps the ids it has seen
near its position, since interactions written meanwhile shift its pages.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from typing import Any

from aiohttp import web
from redis.exceptions import LockError

from mengchong import plugin_settings
from mengchong.commands import Command
from mengchong.keys import cache_key, clock_key, database_key, documents_key, settings_key
from mengchong.storage.database import as_datetime, fetch_rows
from mengchong_plugins.leaderboard import boards, scoring
from mengchong_plugins.leaderboard.settings import BOARD_TYPES, LeaderboardSettings
from mengchong_plugins.leaderboard.subscribers import PET_STATE_FIELDS, enabled_boards, weekly_written

log = logging.getLogger("mengchong.leaderboard")

REBUILD_SECONDS = 3600
"""The longest a rebuild holds its board's lock (and mirrors events into its new key)."""
INTERACTIONS = "pet_interactions"
_BANNED = "SELECT id FROM users WHERE banned_at IS NOT NULL"
_BALANCES = (
    "SELECT u.id, u.points_balance, MAX(l.created_at) AS reached_at "
    "FROM users u JOIN points_ledger l ON l.user_id = u.id "
    "WHERE u.id > $1 AND u.banned_at IS NULL "
    "GROUP BY u.id, u.points_balance ORDER BY u.id LIMIT $2"
)


class RebuildRefused(Exception):
    """The board can't be rebuilt now (switched off, or another rebuild of it is running)."""


def boards_to_rebuild(app: web.Application, board_type: str | None) -> list[str]:
    """The stored boards behind ``board_type`` (None: every board that is on)."""
    boards_on = enabled_boards(app)
    if board_type is not None:
        if board_type not in BOARD_TYPES:
            raise ValueError(f"unknown board {board_type!r}")
        if board_type not in boards_on:
            raise RebuildRefused(f"{board_type} is switched off (leaderboard.boards)")
        wanted = {"weekly_interactions" if board_type == "friend_interaction" else board_type}
    else:
        wanted = {board for board in ("pet_level", "user_points") if board in boards_on}
        if weekly_written(boards_on):
            wanted.add("weekly_interactions")
    return [board for board in boards.STORED_BOARDS if board in wanted]


async def rebuild(app: web.Application, board_type: str | None = None) -> dict[str, int]:
    """Rebuild ``board_type``'s stored board (None: every board that is on); returns how many
    entries each rebuilt board holds. :class:`RebuildRefused` when it can't."""
    targets = boards_to_rebuild(app, board_type)
    cache = app[cache_key]
    banned = {int(row["id"]) for row in await fetch_rows(app[database_key].connection, _BANNED, [])}
    if banned:
        await cache.client.sadd(boards.banned_key(cache), *banned)
    return {target: await _rebuild_board(app, target, banned) for target in targets}


async def _rebuild_board(app: web.Application, board: str, banned: set[int]) -> int:
    cache = app[cache_key]
    now = app[clock_key].now()
    timezone = app[settings_key].app.timezone
    week = scoring.week_of(now, timezone) if board == "weekly_interactions" else None
    keys = boards.board_keys(cache, board, week)
    lock = cache.lock(f"{boards.PREFIX}:rebuild:{board}", timeout=REBUILD_SECONDS)
    if not await lock.acquire(blocking=False):
        raise RebuildRefused(f"another rebuild of {board} is running")
    scratch = (keys.next.board, keys.next.members, keys.next.at)
    try:
        await cache.client.delete(*scratch)  # a crashed rebuild's leftovers
        cutoff_ms = scoring.epoch_ms(now)
        await cache.client.set(keys.rebuilding, cutoff_ms, ex=REBUILD_SECONDS)
        try:
            if board == "user_points":
                await _fill_points(app, keys)
            elif board == "pet_level":
                await _fill_pets(app, keys, banned)
            else:
                assert week is not None
                await _fill_week(app, keys, banned, week, now)
            ttl = 0
            if week is not None:
                kept = plugin_settings(app, LeaderboardSettings).weeks_kept
                ttl = max(1, scoring.week_ttl_seconds(week, timezone, kept, now))
            await boards.swap(cache, keys, ttl)
        except BaseException:
            await cache.client.delete(keys.rebuilding, *scratch)
            raise
    finally:
        try:
            await lock.release()
        except LockError:  # held past REBUILD_SECONDS: another rebuild may have started since
            log.warning("the rebuild of %s outlasted its lock (%s s)", board, REBUILD_SECONDS)
    entries = int(await cache.client.zcard(keys.board))
    log.info("rebuilt %s: %s entries", keys.board, entries, extra={"board": board, "entries": entries})
    return entries


def _batch(app: web.Application) -> int:
    return plugin_settings(app, LeaderboardSettings).rebuild_batch


async def _fill_points(app: web.Application, keys: boards.BoardKeys) -> None:
    cache, batch, last = app[cache_key], _batch(app), 0
    while True:
        rows = await fetch_rows(app[database_key].connection, _BALANCES, [last, batch])
        pipe = cache.client.pipeline(transaction=False)
        for row in rows:
            user_id, balance, reached = (
                int(row["id"]),
                int(row["points_balance"]),
                as_datetime(row["reached_at"]),
            )
            await boards.set_score(
                cache, keys.next, str(user_id), user_id, balance, reached, mirror=False, client=pipe
            )
        await pipe.execute()
        if len(rows) < batch:
            return
        last = int(rows[-1]["id"])


async def _fill_pets(app: web.Application, keys: boards.BoardKeys, banned: set[int]) -> None:
    cache, batch, skip = app[cache_key], _batch(app), 0
    pets = app[documents_key].collection("pets")
    while True:
        found = await pets.find(
            sort=[("id", 1)], skip=skip, limit=batch, fields=["user_id", *PET_STATE_FIELDS]
        )
        pipe = cache.client.pipeline(transaction=False)
        for pet in found:
            user_id = int(pet["user_id"])
            if user_id in banned:
                continue
            reached = pet.get("last_interaction_at") or pet["created_at"]
            score = scoring.pet_score(int(pet["level"]), int(pet["experience"]))
            await boards.set_score(
                cache, keys.next, pet["id"], user_id, score, reached, mirror=False, client=pipe
            )
        await pipe.execute()
        if len(found) < batch:
            return
        skip += batch


async def _fill_week(
    app: web.Application, keys: boards.BoardKeys, banned: set[int], week: str, cutoff: datetime
) -> None:
    """Count the week's interactions up to ``cutoff``, per user, with the newest one's time."""
    start = scoring.week_start(week, app[settings_key].app.timezone)
    counts: dict[int, list[int]] = {}  # user id -> [count, newest ms]
    seen: dict[str, datetime] = {}  # near the scan's position: ids already counted
    interactions = app[documents_key].collection(INTERACTIONS)
    batch, skip = _batch(app), 0
    while True:
        found = await interactions.find(
            sort=[("created_at", -1)], skip=skip, limit=batch, fields=["user_id", "created_at"]
        )
        if not found:
            break
        top = datetime.fromisoformat(found[0]["created_at"])
        # A document newer than this page's first can't come again: it would sort before it.
        seen = {doc_id: created for doc_id, created in seen.items() if created >= top}
        if _count_page(found, seen, counts, start, cutoff, banned) or len(found) < batch:
            break
        skip += batch
    entries = [
        (str(user), scoring.member(newest, str(user)), count) for user, (count, newest) in counts.items()
    ]
    cache = app[cache_key]
    for offset in range(0, len(entries), batch):
        await boards.add_counts(cache, keys, entries[offset : offset + batch])


def _count_page(
    found: list[dict[str, Any]],
    seen: dict[str, datetime],
    counts: dict[int, list[int]],
    start: datetime,
    cutoff: datetime,
    banned: set[int],
) -> bool:
    """Count one page of interactions (newest first); True once one is older than ``start``."""
    for doc in found:
        created = datetime.fromisoformat(doc["created_at"])
        if created < start:
            return True
        if doc["id"] in seen:
            continue
        seen[doc["id"]] = created
        user_id = int(doc["user_id"])
        if created > cutoff or user_id in banned:
            continue
        at_ms = scoring.epoch_ms(created)
        count = counts.setdefault(user_id, [0, at_ms])
        count[0] += 1
        count[1] = max(count[1], at_ms)
    return False


# --- The command ---------------------------------------------------------------------------------


def leaderboard_arguments(parser: argparse.ArgumentParser) -> None:
    """``mengchong leaderboard rebuild [TYPE]`` (the plugin's one subcommand so far)."""
    actions = parser.add_subparsers(dest="action", required=True)
    action = actions.add_parser("rebuild", help="recompute the boards from the databases")
    action.add_argument(
        "board",
        nargs="?",
        choices=BOARD_TYPES,
        default=None,
        help="one board (default: every board in leaderboard.boards)",
    )


async def run_leaderboard(app: web.Application, args: argparse.Namespace) -> int:
    """``rebuild``: print ``<board>: N entries`` per rebuilt board; a board that can't be rebuilt
    now is reported on stderr with status 1."""
    try:
        results = await rebuild(app, getattr(args, "board", None))
    except RebuildRefused as exc:
        print(f"leaderboard rebuild: {exc}", file=sys.stderr)
        return 1
    for board, entries in results.items():
        print(f"{board}: {entries} entries")
    return 0


LEADERBOARD_COMMAND = Command(
    "leaderboard",
    "the leaderboards: `leaderboard rebuild [TYPE]` recomputes them from the databases",
    run_leaderboard,
    leaderboard_arguments,
)
