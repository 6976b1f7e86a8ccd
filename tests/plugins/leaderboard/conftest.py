"""Fixtures of the leaderboard tests: an app with the leaderboard plugin (and pets and check-in,
whose events fill the boards) on either profile, reading a ManualClock, an admin and two users.
Helpers the tests share are in leaderboard_support.py."""

from __future__ import annotations

import pytest

from leaderboard_support import ADMIN_CODE, MONDAY_NOON, Auth, user
from mengchong.clock import ManualClock
from support import settings_from


@pytest.fixture
def leaderboard_overrides() -> dict:
    """The test's ``[leaderboard]`` settings; parametrize it to change them."""
    return {}


@pytest.fixture
def extra_plugins() -> list[tuple[str, object]]:
    return []


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_NOON)


@pytest.fixture
async def client(profile, make_client, leaderboard_overrides, extra_plugins, clock):
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall", "leaderboard"]},
        auth={"admin_openids": [f"mock-{ADMIN_CODE}"]},
        leaderboard=leaderboard_overrides,
    )
    return await make_client(settings, extra_plugins, clock=clock)


@pytest.fixture
async def admin(client) -> tuple[int, Auth]:
    return await user(client, ADMIN_CODE)


@pytest.fixture
async def alice(client) -> tuple[int, Auth]:
    return await user(client, "alice")


@pytest.fixture
async def bob(client) -> tuple[int, Auth]:
    return await user(client, "bob")
