"""Check-ins racing on both profiles: fifteen simultaneous taps of one user are one check-in (the
database's unique day decides), and simultaneous make-ups never pass the monthly limit nor are
paid for more than once each. No race answers 5xx."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from checkin_support import BASE, TODAY, balance, check_in, entries, give_points, ledger, make_up, status_data


async def test_fifteen_simultaneous_taps_are_one_check_in(client, alice, bob):
    alice_id, auth = alice
    results = await asyncio.gather(*(check_in(client, auth) for _ in range(15)))
    statuses = sorted((status, body["code"]) for status, body in results)
    assert statuses == [(200, 0)] + [(409, 40901)] * 14, statuses
    rows = await ledger(client, auth)
    assert entries(rows, "checkin") == [(BASE, TODAY.isoformat())]
    assert len(rows) == 1
    assert await balance(client, alice_id) == BASE
    data = await status_data(client, auth)
    assert (data["current_month_checkins"], data["consecutive_days"]) == ([TODAY.isoformat()], 1)

    # Bob racing at the same time as a second tap of Alice's: his own day, untouched by hers.
    bob_id, bob_auth = bob
    (bob_status, _), (alice_status, _) = await asyncio.gather(
        check_in(client, bob_auth), check_in(client, auth)
    )
    assert (bob_status, alice_status) == (200, 409)
    assert await balance(client, bob_id) == BASE


@pytest.mark.parametrize("checkin_overrides", [{"retroactive_window_days": 10, "retroactive_per_month": 3}])
async def test_simultaneous_make_ups_stop_at_the_monthly_limit(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 8 * 50)
    days = [TODAY - timedelta(days=n) for n in range(1, 9)]
    results = await asyncio.gather(*(make_up(client, auth, day) for day in days))
    statuses = sorted((status, body["code"]) for status, body in results)
    assert statuses == [(200, 0)] * 3 + [(422, 42204)] * 5, statuses

    won = sorted(body["data"]["date"] for status, body in results if status == 200)
    data = await status_data(client, auth)
    assert (data["current_month_checkins"], data["retroactive_dates"]) == (won, won)
    assert data["retroactive"]["left_this_month"] == 0
    rows = await ledger(client, auth)
    assert sorted(row["delta"] for row in rows if row["delta"] < 0) == [-50] * 3
    assert sorted(ref for _, ref in entries(rows, "checkin")) == won
    assert await balance(client, alice_id) == 8 * 50 - 3 * 50 + 3 * BASE
