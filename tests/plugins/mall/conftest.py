"""Fixtures of the mall tests: an app with the mall plugin (and pets, whose foods and toys the
products grant) on either profile, an admin (``auth.admin_openids``) and two users. Helpers the
tests share are in mall_support.py."""

from __future__ import annotations

import pytest

from mall_support import ADMIN_CODE, Auth, user
from support import settings_from


@pytest.fixture
def mall_overrides() -> dict:
    """The test's ``[mall]`` settings; parametrize it to change them."""
    return {}


@pytest.fixture
def extra_plugins() -> list[tuple[str, object]]:
    """Throwaway plugins registered beside the mall plugin (an event spy, say)."""
    return []


@pytest.fixture
async def client(profile, make_client, mall_overrides, extra_plugins):
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall"]},
        auth={"admin_openids": [f"mock-{ADMIN_CODE}"]},
        mall=mall_overrides,
    )
    return await make_client(settings, extra_plugins)


@pytest.fixture
async def admin(client) -> tuple[int, Auth]:
    return await user(client, ADMIN_CODE)


@pytest.fixture
async def alice(client) -> tuple[int, Auth]:
    return await user(client, "alice")


@pytest.fixture
async def bob(client) -> tuple[int, Auth]:
    return await user(client, "bob")
