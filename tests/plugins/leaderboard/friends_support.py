"""Helpers of the friend-graph tests: the friend routes over HTTP, the rows behind them, and
``race``, which makes simultaneous requests really meet on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from leaderboard_support import Auth
from mengchong.accounts.models import User
from mengchong.keys import database_key, tokens_key
from mengchong_plugins.leaderboard.models import FriendInvite, Friendship
from support import bearer

Answer = tuple[int, dict[str, Any]]
"""A response's status and envelope."""


async def accept(client: TestClient, auth: Auth, body: Any) -> Answer:
    """``POST /v1/friends/accept`` with ``body`` as JSON; the status and the envelope."""
    response = await client.post("/v1/friends/accept", json=body, headers=auth)
    return response.status, await response.json()


async def accepted(client: TestClient, auth: Auth, code: str) -> dict[str, Any]:
    status, body = await accept(client, auth, {"code": code})
    assert status == 200, body
    return body["data"]


async def friends_page(client: TestClient, auth: Auth, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/friends", params=params, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return body["data"]


async def friend_list(client: TestClient, auth: Auth) -> list[int]:
    """The ids of the user's friends as the list shows them (one page of 100), newest first."""
    data = await friends_page(client, auth, limit=100)
    assert data["total"] == len(data["items"])
    return [int(item["user_id"]) for item in data["items"]]


async def remove(client: TestClient, auth: Auth, user_id: Any) -> tuple[int, dict[str, Any]]:
    response = await client.delete(f"/v1/friends/{user_id}", headers=auth)
    return response.status, await response.json()


def fields(body: dict[str, Any]) -> set[str]:
    """The fields an error envelope names."""
    return {error["field"] for error in body.get("errors", [])}


def pairs(*friends_: tuple[int, int]) -> set[tuple[int, int]]:
    """The rows of these friendships: both directions of each."""
    return {row for a, b in friends_ for row in ((a, b), (b, a))}


async def members(client: TestClient, count: int) -> list[tuple[int, Auth]]:
    """``count`` users and a token of each, made in the database: the login route's per-IP limit
    (30 a minute) would stop a test that needs more."""
    app = client.server.app
    made = []
    with app[database_key].activate():
        for n in range(count):
            member = await User.create(openid=f"mock-member-{n}", nickname=f"member {n}")
            token, _ = app[tokens_key].issue(member.id, member.token_version)
            made.append((member.id, bearer(token)))
    return made


async def friendship_rows(client: TestClient) -> set[tuple[int, int]]:
    """Every (user, friend) row of the table."""
    with client.server.app[database_key].activate():
        rows = await Friendship.all().values_list("user_id", "friend_id")
    return {(int(a), int(b)) for a, b in rows}


async def invite_owners(client: TestClient) -> dict[str, int]:
    """Every invite code of the table, and whose it is."""
    with client.server.app[database_key].activate():
        return dict(await FriendInvite.all().values_list("code", "inviter_id"))


_LOCK_WAITS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def _lock_waits(connection: asyncpg.Connection) -> int:
    await connection.execute("SELECT pg_stat_clear_snapshot()")  # read once a transaction otherwise
    return await connection.fetchval(_LOCK_WAITS)


async def race(client: TestClient, calls: list[Coroutine[Any, Any, Answer]]) -> list[Answer]:
    """Run the calls at once. On PostgreSQL, a connection of the test's own holds every INSERT into
    friendships back (a SHARE lock on the table: reads go on) until each call waits on a lock, so
    that all of them have read what they count before any of them writes, unless the code makes
    them wait for each other. SQLite runs one transaction at a time anyway. At most 10 calls: the
    app's pool has 10 connections."""
    database = client.server.app[database_key]
    if database.dialect != "postgres":
        return await asyncio.gather(*calls)
    holder = await asyncpg.connect(database.url)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE friendships IN SHARE MODE")
            tasks = [asyncio.ensure_future(call) for call in calls]
            deadline = asyncio.get_running_loop().time() + 5
            while await _lock_waits(holder) < len(tasks) and not any(task.done() for task in tasks):
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.01)
            # Held back as meant: each call waits, or one answered without writing (the test judges).
            forced = any(task.done() for task in tasks) or await _lock_waits(holder) >= len(tasks)
    finally:
        await holder.close()  # the lock goes with it, whatever happened
    results = await asyncio.gather(*tasks)
    assert forced, "the calls never all waited on a lock"
    return results
