"""Fixtures of the economy's service tests: a migrated kernel database on each dialect."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mengchong.accounts.models import User
from mengchong.app import KERNEL_MODELS, build_database
from mengchong.storage.database import Database
from support import settings_from


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The kernel's tables on SQLite, then on PostgreSQL (with a pool wide enough to race)."""
    db = build_database(settings_from({"database": {"url": database_url, "pool_max": 20}}), [KERNEL_MODELS])
    await db.migrate()
    await db.open()
    yield db
    await db.close()


@pytest.fixture
def make_user(database: Database) -> Callable[..., Awaitable[User]]:
    """``await make_user(points=0)``: a new user, given its starting points through the ledger."""
    numbers = itertools.count(1)

    async def make(points: int = 0) -> User:
        from mengchong.economy.points import grant_points

        with database.activate():
            user = await User.create(openid=f"user-{next(numbers)}")
        if points:
            await grant_points(database, user.id, points, "test.seed")
        return user

    return make
