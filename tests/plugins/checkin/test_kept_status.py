"""``GET /v1/checkin/status`` served from the process's copy (:mod:`mengchong_plugins.checkin.kept_status`)
on both profiles: a second read is the copy, and every write a status shows (a check-in, a
make-up, a make-up card granted) is seen by the very next read, from this process and from
another one on the same Redis and database; a new local day or another month is made afresh."""

from __future__ import annotations

from datetime import timedelta

import pytest

from checkin_support import MAKEUP_CARD, TODAY, checked_in, go_to, made_up, status_data, user
from mengchong.economy.inventory import grant_items
from mengchong.keys import database_key, item_catalog_key
from mengchong_plugins.checkin.models import CheckinLog
from support import settings_from


async def logged_behind_the_products_back(client, user_id: int, day, now) -> None:
    """A log no writer of ours made (nobody touches the user's row): what shows the copy is served."""
    with client.server.app[database_key].activate():
        await CheckinLog.create(
            user_id=user_id, day=day, retroactive=False, reward_points=10, bonus_points=0, created_at=now
        )


async def test_a_second_read_is_the_copy_and_a_check_in_shows_at_once(client, clock, alice):
    alice_id, auth = alice
    assert (await status_data(client, auth))["current_month_checkins"] == []
    await logged_behind_the_products_back(client, alice_id, TODAY - timedelta(days=1), clock.now())
    assert (await status_data(client, auth))["current_month_checkins"] == []  # the copy

    await checked_in(client, auth)
    data = await status_data(client, auth)
    yesterday, today = (TODAY - timedelta(days=1)).isoformat(), TODAY.isoformat()
    assert data["current_month_checkins"] == [yesterday, today]  # read again, both
    assert (data["today_checked_in"], data["consecutive_days"]) == (True, 2)


async def test_a_make_up_card_granted_shows_at_once(client, alice):
    alice_id, auth = alice
    assert (await status_data(client, auth))["retroactive"]["makeup_cards"] == 0
    app = client.server.app
    with app[database_key].activate():
        async with app[database_key].transaction() as connection:  # as a mall order grants one
            await grant_items(connection, app[item_catalog_key], alice_id, MAKEUP_CARD, 2)
    assert (await status_data(client, auth))["retroactive"]["makeup_cards"] == 2
    await made_up(client, auth, TODAY - timedelta(days=2))
    data = await status_data(client, auth)
    assert data["retroactive"]["makeup_cards"] == 1
    assert data["retroactive_dates"] == [(TODAY - timedelta(days=2)).isoformat()]


async def test_a_new_local_day_and_another_month_are_made_afresh(client, clock, alice):
    _, auth = alice
    await checked_in(client, auth)
    assert (await status_data(client, auth))["today_checked_in"] is True
    go_to(clock, TODAY + timedelta(days=1))
    data = await status_data(client, auth)
    assert (data["today"], data["today_checked_in"]) == ((TODAY + timedelta(days=1)).isoformat(), False)
    assert (await status_data(client, auth, "?month=2026-05"))["month"] == "2026-05"
    assert (await status_data(client, auth))["month"] == "2026-06"


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_another_process_sees_a_check_in_at_once(profile, make_client, clock):
    settings = settings_from(profile, plugins={"enabled": ["pets", "checkin"]})
    first = await make_client(settings, clock=clock)
    second = await make_client(settings, clock=clock)  # same database and Redis prefix
    _, auth = await user(first, "alice")
    assert (await status_data(first, auth))["today_checked_in"] is False
    await checked_in(second, auth)
    assert (await status_data(first, auth))["today_checked_in"] is True
