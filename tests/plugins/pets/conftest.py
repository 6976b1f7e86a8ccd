"""Fixtures of the pets tests: an app with the pets plugin on either profile and a logged-in user.
Helpers the tests share are in pets_support.py."""

from __future__ import annotations

import pytest

from support import bearer, login, settings_from


@pytest.fixture
def pets_overrides() -> dict:
    return {}


@pytest.fixture
async def client(profile, make_client, pets_overrides):
    return await make_client(settings_from(profile, plugins={"enabled": ["pets"]}, pets=pets_overrides))


@pytest.fixture
async def alice(client) -> dict[str, str]:
    return bearer((await login(client, "alice"))["token"])
