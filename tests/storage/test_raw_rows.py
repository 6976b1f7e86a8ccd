"""Rows read raw through ``fetch_rows`` on both profiles: a DATE and a timestamp come back as
``date``/``datetime`` from PostgreSQL and as ISO text from SQLite; ``as_date`` and
``as_datetime`` give the same values from either."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mengchong.accounts.models import User
from mengchong.keys import database_key
from mengchong.storage.database import as_date, as_datetime, fetch_rows
from support import settings_from


@pytest.fixture
async def database(profile, make_client):
    client = await make_client(settings_from(profile, plugins={"enabled": ["pets", "checkin"]}))
    database = client.server.app[database_key]
    with database.activate():
        yield database


async def test_a_date_and_a_timestamp_read_raw_are_the_same_values_on_either_dialect(database):
    user = await User.create(openid="raw-rows")
    day, at = date(2026, 6, 15), datetime(2026, 6, 15, 4, 5, 6, 789000, tzinfo=UTC)
    connection = database.connection
    await fetch_rows(
        connection,
        "INSERT INTO checkin_logs (user_id, day, retroactive, reward_points, bonus_points, created_at) "
        "VALUES ($1, $2, false, 10, 0, $3)",
        [user.id, day, at],
    )
    (row,) = await fetch_rows(
        connection, "SELECT day, created_at FROM checkin_logs WHERE user_id = $1", [user.id]
    )
    assert as_date(row["day"]) == day
    assert as_datetime(row["created_at"]) == at
    assert as_datetime(row["created_at"]).utcoffset() is not None
