"""The friend graph as the boards read it: a user's friends' ids."""

from __future__ import annotations

from aiohttp import web

from mengchong.keys import database_key
from mengchong.storage.database import fetch_rows

_FRIENDS = "SELECT friend_id FROM friendships WHERE user_id = $1"


async def friend_ids(app: web.Application, user_id: int) -> list[int]:
    """The ids of the user's friends (unordered)."""
    rows = await fetch_rows(app[database_key].connection, _FRIENDS, [user_id])
    return [int(row["friend_id"]) for row in rows]
