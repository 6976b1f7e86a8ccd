"""Fixtures of the console tests: an app with the console enabled beside the default plugins, on
either profile."""

from __future__ import annotations

import pytest

from support import settings_from


@pytest.fixture
def console_overrides() -> dict:
    return {}


@pytest.fixture
async def client(profile, make_client, console_overrides):
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall", "leaderboard", "notifications", "console"]},
        console=console_overrides,
        ratelimit={"enabled": False},
    )
    return await make_client(settings)
