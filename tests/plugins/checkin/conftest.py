"""Fixtures of the check-in tests: an app with the check-in plugin (and pets, whose food.cake is the
day-7 bonus) on either profile, reading a ManualClock, and two logged-in users. Helpers the tests
share are in checkin_support.py."""

from __future__ import annotations

import pytest

from checkin_support import SHANGHAI, TODAY, Auth, local, user
from mengchong.clock import ManualClock
from support import settings_from


@pytest.fixture
def checkin_overrides() -> dict:
    """The test's ``[checkin]`` settings; parametrize it to change them."""
    return {}


@pytest.fixture
def timezone() -> str:
    """The app's ``app.timezone``; parametrize it to change it."""
    return SHANGHAI


@pytest.fixture
def extra_plugins() -> list[tuple[str, object]]:
    """Throwaway plugins registered beside the check-in plugin (an event spy, say)."""
    return []


@pytest.fixture
def clock(timezone: str) -> ManualClock:
    return ManualClock(local(TODAY, timezone))


@pytest.fixture
async def client(profile, make_client, checkin_overrides, timezone, extra_plugins, clock):
    settings = settings_from(
        profile,
        app={"timezone": timezone},
        plugins={"enabled": ["pets", "checkin"]},
        checkin=checkin_overrides,
    )
    return await make_client(settings, extra_plugins, clock=clock)


@pytest.fixture
async def alice(client) -> tuple[int, Auth]:
    return await user(client, "alice")


@pytest.fixture
async def bob(client) -> tuple[int, Auth]:
    return await user(client, "bob")
