"""Helpers of the leaderboard tests: users, the app's clock at local instants, and the friend
routes over HTTP. Fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from support import bearer, login

Auth = dict[str, str]
"""The Authorization header of a logged-in user (``support.bearer``)."""

ADMIN_CODE = "board-admin"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 6, 15)
"""A Monday: ISO week 2026-W25 starts on it (local time, Asia/Shanghai)."""
MONDAY_NOON = datetime.combine(MONDAY, time(12), tzinfo=SHANGHAI).astimezone(UTC)


def local(day: date, at: time = time(12)) -> datetime:
    """The instant (UTC) of wall time ``at`` on ``day`` in Asia/Shanghai."""
    return datetime.combine(day, at, tzinfo=SHANGHAI).astimezone(UTC)


async def user(client: TestClient, code: str) -> tuple[int, Auth]:
    """Log in as openid ``mock-<code>``; the user id and the Authorization header."""
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def invite(client: TestClient, auth: Auth) -> dict[str, Any]:
    """``POST /v1/friends/invite``; the data of its 201."""
    response = await client.post("/v1/friends/invite", headers=auth)
    body = await response.json()
    assert response.status == 201, body
    return body["data"]


async def befriend(client: TestClient, inviter: Auth, accepter: Auth) -> None:
    """Make the two users friends through an invite code."""
    code = (await invite(client, inviter))["code"]
    response = await client.post("/v1/friends/accept", json={"code": code}, headers=accepter)
    assert response.status == 200, await response.json()


async def until(read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float = 10) -> Any:
    """Read until ``check`` holds (events reach the boards asynchronously); the last read."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await read()
        if check(value):
            return value
        assert asyncio.get_running_loop().time() < deadline, f"condition not met in time: {value}"
        await asyncio.sleep(0.02)


async def board(client: TestClient, auth: Auth, board_type: str, **params: Any) -> dict[str, Any]:
    """The data of ``GET /v1/leaderboards/<board_type>`` (``limit`` 100 unless given), checked
    against its documented schema."""
    from mengchong_plugins.leaderboard.schemas_boards import BoardPage

    response = await client.get(
        f"/v1/leaderboards/{board_type}", params={"limit": 100, **params}, headers=auth
    )
    body = await response.json()
    assert response.status == 200, body
    assert BoardPage().validate(body["data"]) == {}
    return body["data"]
