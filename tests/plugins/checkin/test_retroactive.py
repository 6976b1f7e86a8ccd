"""Make-up days over HTTP on both profiles (``POST /v1/checkin/retroactive``): paid with a make-up
card when one is held, else with points (422 42201 and nothing charged when they fall short);
only past days within the window (400 naming ``date``), once a day (409), a few a month counted
by the month they are made in (422 42204); a filled gap joins the runs on both sides and never
pays a streak bonus."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from checkin_support import (
    BASE,
    DAY_3_BONUS,
    MAKEUP_CARD,
    TODAY,
    balance,
    checked_in,
    entries,
    give_cards,
    give_points,
    go_to,
    inventory,
    ledger,
    made_up,
    make_up,
    preview,
    refused_fields,
    shown,
    status_data,
    week_from,
)

YESTERDAY = TODAY - timedelta(days=1)
COST = 50
"""The default ``checkin.retroactive_cost_points``."""


async def test_a_missed_day_made_up_with_points_joins_today(client, alice, bob):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    data = await made_up(client, auth, YESTERDAY)
    expected = {
        "date": "2026-06-14",
        "paid_with": "points",
        "cost_points": COST,
        "reward_points": BASE,
        "consecutive_days": 1,  # through yesterday: today is not checked in yet
        "balance": 100 - COST + BASE,
    }
    assert shown(data, expected) == expected
    rows = await ledger(client, auth)
    assert sorted(row["delta"] for row in rows) == [-COST, BASE, 100]
    assert entries(rows, "checkin") == [(BASE, "2026-06-14")]
    status = await status_data(client, auth)
    expected = {
        "today_checked_in": False,
        "consecutive_days": 1,
        "current_month_checkins": ["2026-06-14"],
        "retroactive_dates": ["2026-06-14"],
    }
    assert shown(status, expected) == expected
    assert status["retroactive"]["left_this_month"] == 2

    today = await checked_in(client, auth)
    assert (today["consecutive_days"], today["balance"]) == (2, 100 - COST + 2 * BASE)

    status, body = await make_up(client, auth, YESTERDAY)
    assert (status, body["code"]) == (409, 40901), body
    assert await balance(client, alice_id) == 100 - COST + 2 * BASE
    after = await status_data(client, auth)
    assert (after["retroactive"]["left_this_month"], after["retroactive_dates"]) == (2, ["2026-06-14"])

    _, bob_auth = bob
    bob_status = await status_data(client, bob_auth)
    assert (bob_status["retroactive"]["left_this_month"], bob_status["current_month_checkins"]) == (3, [])


async def test_a_make_up_card_is_spent_before_points(client, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    await give_points(client, alice_id, 100)
    await give_cards(client, alice_id, 1)
    await give_cards(client, bob_id, 2)
    assert (await status_data(client, auth))["retroactive"]["makeup_cards"] == 1

    data = await made_up(client, auth, YESTERDAY)
    expected = {"paid_with": "makeup_card", "cost_points": 0, "reward_points": BASE, "balance": 100 + BASE}
    assert shown(data, expected) == expected
    assert MAKEUP_CARD not in await inventory(client, auth)
    assert (await status_data(client, auth))["retroactive"]["makeup_cards"] == 0
    assert all(row["delta"] > 0 for row in await ledger(client, auth))

    data = await made_up(client, auth, YESTERDAY - timedelta(days=1))
    expected = {"paid_with": "points", "cost_points": COST, "balance": 100 + 2 * BASE - COST}
    assert shown(data, expected) == expected
    assert (await inventory(client, bob_auth))[MAKEUP_CARD] == 2


async def test_a_filled_gap_joins_the_runs_on_both_sides(client, clock, alice):
    alice_id, auth = alice
    gap = date(2026, 6, 18)
    for n in [-3, -2, -1, 1, 2, 3]:  # three days before the gap, three after
        go_to(clock, gap + timedelta(days=n))
        await checked_in(client, auth)
    today = gap + timedelta(days=3)
    paid = 6 * BASE + 2 * 20  # day 3 of each run paid its bonus
    assert await balance(client, alice_id) == paid
    assert (await status_data(client, auth))["consecutive_days"] == 3

    data = await made_up(client, auth, gap)
    assert (data["consecutive_days"], data["reward_points"], data["balance"]) == (7, BASE, paid - COST + BASE)
    status = await status_data(client, auth)
    assert (status["today_checked_in"], status["consecutive_days"]) == (True, 7)
    assert status["retroactive_dates"] == ["2026-06-18"]
    assert preview(status) == week_from(today + timedelta(days=1), 8)  # cycle day 1: no bonus
    bonuses = entries(await ledger(client, auth), "checkin.bonus")
    assert bonuses == [(20, "2026-06-15:3"), (20, "2026-06-19:3")]

    assert preview(status)[2][3] == DAY_3_BONUS  # day 10 is cycle day 3

    go_to(clock, today + timedelta(days=1))
    tomorrow = await checked_in(client, auth)
    assert (tomorrow["consecutive_days"], tomorrow["bonus_reward"]) == (8, None)


ITEM_BONUS = {"points": 20, "item_id": "food.cake", "quantity": 2}


@pytest.mark.parametrize("checkin_overrides", [{"bonuses": {"3": ITEM_BONUS}}])
async def test_a_made_up_day_never_pays_a_streak_bonus(client, clock, alice, bob):
    alice_id, auth = alice
    bob_id, bob_auth = bob
    for day, who in [(11, [auth]), (12, [auth, bob_auth]), (13, [bob_auth]), (14, [bob_auth])]:
        go_to(clock, date(2026, 6, day))
        for each in who:
            data = await checked_in(client, each)
    assert (data["consecutive_days"], data["bonus_reward"]) == (3, ITEM_BONUS)  # Bob's live day 3
    assert (await inventory(client, bob_auth))["food.cake"] == 2

    await give_points(client, alice_id, 100)
    data = await made_up(client, auth, date(2026, 6, 13))  # Alice's streak day 3
    expected = {"consecutive_days": 3, "reward_points": BASE, "balance": 2 * BASE + 100 - COST + BASE}
    assert shown(data, expected) == expected
    assert data.get("bonus_reward") is None
    assert entries(await ledger(client, auth), "checkin.bonus") == []
    assert "food.cake" not in await inventory(client, auth)
    assert await balance(client, bob_id) == 3 * BASE + 20


async def test_only_a_past_day_within_the_window_once(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, 1000)
    window_edge = TODAY - timedelta(days=7)
    for body in [
        {"date": TODAY.isoformat()},
        {"date": (TODAY + timedelta(days=1)).isoformat()},
        {"date": "2027-01-01"},
        {"date": (window_edge - timedelta(days=1)).isoformat()},
        {"date": "14/06/2026"},
        {"date": "x"},
        {"date": ""},
        {"date": 20260614},
        {"date": None},
        {"date": ["2026-06-14"]},
        {},
        {"date": "2026-06-14", "date_to_补签": "2026-06-13"},
    ]:
        status, payload = await make_up(client, auth, body)
        assert (status, payload["code"], refused_fields(payload)) == (400, 40001, {"date"}), (body, payload)
    status, payload = await make_up(client, auth, {"date": "2026-06-14", "x": 1})
    assert (status, payload["code"], refused_fields(payload)) == (400, 40001, {"x"}), payload
    assert await balance(client, alice_id) == 1000
    unchanged = await status_data(client, auth)
    assert (unchanged["current_month_checkins"], unchanged["retroactive"]["left_this_month"]) == ([], 3)

    assert (await made_up(client, auth, window_edge))["date"] == window_edge.isoformat()
    status, payload = await make_up(client, auth, {"date_to_补签": "2026-06-14"})
    assert (status, payload["data"]["date"]) == (200, "2026-06-14"), payload
    assert (await status_data(client, auth))["retroactive_dates"] == ["2026-06-08", "2026-06-14"]

    # YYYY-MM-DD exactly, as ?month= is YYYY-MM exactly ("2026-1" is a 400 there).
    status, payload = await make_up(client, auth, {"date": "2026-6-13"})
    assert (status, payload["code"], refused_fields(payload)) == (400, 40001, {"date"}), payload


async def test_three_make_ups_a_month_counted_in_the_month_they_are_made(client, clock, alice, bob):
    alice_id, auth = alice
    await give_points(client, alice_id, 1000)
    for n in [1, 2, 3]:
        await made_up(client, auth, TODAY - timedelta(days=n))
    await give_cards(client, alice_id, 1)
    status, body = await make_up(client, auth, TODAY - timedelta(days=4))
    assert (status, body["code"]) == (422, 42204), body
    assert await balance(client, alice_id) == 1000 - 3 * COST + 3 * BASE
    status = await status_data(client, auth)
    assert (status["retroactive"]["left_this_month"], status["retroactive"]["makeup_cards"]) == (0, 1)
    assert len(status["current_month_checkins"]) == 3
    _, bob_auth = bob
    assert (await status_data(client, bob_auth))["retroactive"]["left_this_month"] == 3

    # July's make-ups may fill a June day.
    go_to(clock, date(2026, 7, 1))
    data = await made_up(client, auth, date(2026, 6, 30))
    assert data["paid_with"] == "makeup_card"
    assert (await status_data(client, auth))["retroactive"]["left_this_month"] == 2
    june = await status_data(client, auth, "?month=2026-06")
    assert june["retroactive_dates"] == ["2026-06-12", "2026-06-13", "2026-06-14", "2026-06-30"]


async def test_no_card_and_too_few_points_charges_nothing(client, alice):
    alice_id, auth = alice
    await give_points(client, alice_id, COST - 1)
    before = await status_data(client, auth)
    status, body = await make_up(client, auth, YESTERDAY)
    assert (status, body["code"]) == (422, 42201), body
    assert await balance(client, alice_id) == COST - 1
    assert await status_data(client, auth) == before
    assert len(await ledger(client, auth)) == 1

    await give_points(client, alice_id, 1)  # exactly the cost
    data = await made_up(client, auth, YESTERDAY)
    assert (data["paid_with"], data["balance"]) == ("points", BASE)
