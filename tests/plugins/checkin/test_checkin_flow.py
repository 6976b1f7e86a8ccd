"""The daily check-in over HTTP on both profiles, on a ManualClock: the status before and after,
once a local day (409 the second time, nothing paid), the streak and its bonuses over a week and
after, local days in Asia/Shanghai and across DST changes in America/New_York, the monthly
calendar (``?month=``), bad input, and the ``checkin.completed`` event."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest

from checkin_support import (
    BASE,
    DAY_3_BONUS,
    DAY_7_BONUS,
    NEW_YORK,
    TODAY,
    balance,
    check_in,
    checked_in,
    checkin_status,
    entries,
    give_points,
    go_to,
    inventory,
    ledger,
    made_up,
    preview,
    refused_fields,
    shown,
    status_data,
    week_from,
)
from mengchong import hookimpl
from mengchong.events import Event, Subscriber
from mengchong_plugins.checkin.events import CheckinCompleted
from support import eventually

JUST_BEFORE_MIDNIGHT = time(23, 59, 59)
JUST_AFTER_MIDNIGHT = time(0, 0, 1)


async def test_status_then_one_check_in_a_day(client, alice, bob):
    alice_id, alice_auth = alice
    _, bob_auth = bob
    before = await status_data(client, alice_auth)
    expected = {
        "today_checked_in": False,
        "consecutive_days": 0,
        "month": "2026-06",
        "current_month_checkins": [],
        "retroactive_dates": [],
    }
    assert shown(before, expected) == expected
    makeups = {"left_this_month": 3, "per_month": 3, "cost_points": 50, "window_days": 7, "makeup_cards": 0}
    assert shown(before["retroactive"], makeups) == makeups
    assert preview(before) == week_from(TODAY, 1)
    assert (preview(before)[2][3], preview(before)[6][3]) == (DAY_3_BONUS, DAY_7_BONUS)

    status, body = await check_in(client, alice_auth)
    assert (status, body["code"]) == (200, 0), body
    expected = {
        "date": "2026-06-15",
        "reward_points": BASE,
        "consecutive_days": 1,
        "bonus_reward": None,
        "balance": BASE,
    }
    assert shown(body["data"], expected) == expected
    after = await status_data(client, alice_auth)
    assert (after["today_checked_in"], after["consecutive_days"]) == (True, 1)
    assert (after["current_month_checkins"], after["retroactive_dates"]) == (["2026-06-15"], [])
    assert preview(after) == week_from(TODAY + timedelta(days=1), 2)

    status, body = await check_in(client, alice_auth)
    assert (status, body["code"]) == (409, 40901), body
    assert await balance(client, alice_id) == BASE
    rows = await ledger(client, alice_auth)
    assert [(row["delta"], row["reason"], row["ref"], row["balance_after"]) for row in rows] == [
        (BASE, "checkin", "2026-06-15", BASE)
    ]
    assert await status_data(client, alice_auth) == after

    # Bob's day is his own; an empty JSON object is no body at all.
    bob_before = await status_data(client, bob_auth)
    assert (bob_before["today_checked_in"], bob_before["current_month_checkins"]) == (False, [])
    status, body = await check_in(client, bob_auth, json={})
    assert (status, body["data"]["balance"], body["data"]["consecutive_days"]) == (200, BASE, 1), body


async def test_a_streak_pays_day_3_and_day_7_then_starts_over(client, clock, alice, bob):
    alice_id, auth = alice
    first = date(2026, 6, 1)
    paid = 0
    for day in range(1, 9):
        go_to(clock, first + timedelta(days=day - 1))
        data = await checked_in(client, auth)
        bonus = {3: DAY_3_BONUS, 7: DAY_7_BONUS}.get(day)
        paid += BASE + (bonus["points"] if bonus else 0)
        expected = {
            "date": (first + timedelta(days=day - 1)).isoformat(),
            "reward_points": BASE,
            "consecutive_days": day,
            "bonus_reward": bonus,
            "balance": paid,
        }
        assert shown(data, expected) == expected, day
        if day == 6:
            assert "food.cake" not in await inventory(client, auth)
    assert paid == 8 * BASE + 20 + 50
    assert (await inventory(client, auth))["food.cake"] == 1
    rows = await ledger(client, auth)
    assert entries(rows, "checkin.bonus") == [(20, "2026-06-01:3"), (50, "2026-06-01:7")]
    assert [ref for _, ref in entries(rows, "checkin")] == [f"2026-06-0{n}" for n in range(1, 9)]
    assert await balance(client, alice_id) == paid

    # June 9, not checked in yet: a check-in would continue the streak through yesterday (8) as
    # day 9, cycle day 2, so day 10 (cycle day 3) pays a bonus again.
    go_to(clock, first + timedelta(days=8))
    data = await status_data(client, auth)
    assert (data["today_checked_in"], data["consecutive_days"]) == (False, 8)
    assert preview(data) == week_from(date(2026, 6, 9), 9)
    assert preview(data)[1][3] == DAY_3_BONUS

    # June 10 with June 9 missed: nothing to continue, and the next check-in is day 1 again.
    go_to(clock, first + timedelta(days=9))
    data = await status_data(client, auth)
    assert (data["today_checked_in"], data["consecutive_days"]) == (False, 0)
    assert preview(data) == week_from(date(2026, 6, 10), 1)
    data = await checked_in(client, auth)
    assert (data["consecutive_days"], data["bonus_reward"], data["balance"]) == (1, None, paid + BASE)

    _, bob_auth = bob
    bob_status = await status_data(client, bob_auth)
    assert (bob_status["consecutive_days"], bob_status["current_month_checkins"]) == (0, [])


async def test_a_second_before_and_after_local_midnight_are_two_days(client, clock, alice):
    _, auth = alice
    go_to(clock, TODAY, at=JUST_BEFORE_MIDNIGHT)  # 15:59:59 UTC
    assert (await checked_in(client, auth))["date"] == "2026-06-15"
    go_to(clock, TODAY + timedelta(days=1), at=JUST_AFTER_MIDNIGHT)  # 16:00:01 UTC, the same UTC day
    data = await checked_in(client, auth)
    assert (data["date"], data["consecutive_days"]) == ("2026-06-16", 2)
    go_to(clock, TODAY + timedelta(days=1), at=JUST_BEFORE_MIDNIGHT)  # the next UTC day
    status, body = await check_in(client, auth)
    assert (status, body["code"]) == (409, 40901), body


@pytest.mark.parametrize("timezone", [NEW_YORK])
@pytest.mark.parametrize("change", [date(2026, 3, 8), date(2026, 11, 1)], ids=["spring", "fall"])
async def test_local_days_hold_across_a_dst_change(client, clock, alice, timezone, change):
    _, auth = alice
    for day, at, expected in [
        (change - timedelta(days=1), JUST_BEFORE_MIDNIGHT, (200, 1)),
        (change, JUST_AFTER_MIDNIGHT, (200, 2)),
        # The change day has 23 or 25 hours: its last second is still that day, under either offset.
        (change, JUST_BEFORE_MIDNIGHT, (409, None)),
        (change + timedelta(days=1), JUST_AFTER_MIDNIGHT, (200, 3)),
    ]:
        go_to(clock, day, timezone, at)
        status, body = await check_in(client, auth)
        consecutive = body["data"]["consecutive_days"] if status == 200 else None
        assert (status, consecutive) == expected, (day, at, body)
        if status == 200:
            assert body["data"]["date"] == day.isoformat()


async def test_the_calendar_of_a_month(client, clock, alice, bob):
    alice_id, auth = alice
    for day in [date(2026, 5, 30), date(2026, 6, 2)]:
        go_to(clock, day)
        await checked_in(client, auth)
    go_to(clock, date(2026, 6, 3))
    await give_points(client, alice_id, 50)
    await made_up(client, auth, date(2026, 5, 31))

    may = await status_data(client, auth, "?month=2026-05")
    assert (may["month"], may["current_month_checkins"], may["retroactive_dates"]) == (
        "2026-05",
        ["2026-05-30", "2026-05-31"],
        ["2026-05-31"],
    )
    assert (may["today_checked_in"], may["consecutive_days"]) == (False, 1)  # today's, whatever the month
    june = await status_data(client, auth)
    assert (june["month"], june["current_month_checkins"]) == ("2026-06", ["2026-06-02"])
    assert await status_data(client, auth, "?month=2026-06") == june
    assert (await status_data(client, auth, "?month=2025-12"))["current_month_checkins"] == []
    _, bob_auth = bob
    assert (await status_data(client, bob_auth, "?month=2026-05"))["current_month_checkins"] == []

    for month in ["2026-13", "2026-00", "2026-1", "x", "", "2026-06-01", "2026-07", "2027-01"]:
        status, body = await checkin_status(client, auth, f"?month={month}")
        assert (status, body["code"], refused_fields(body)) == (400, 40001, {"month"}), (month, body)
    status, body = await checkin_status(client, auth, "?month=2026-06&page=1")
    assert (status, body["code"], refused_fields(body)) == (400, 40001, {"page"}), body


async def test_bad_input_and_no_token(client, alice):
    alice_id, auth = alice
    for body in [{"date": "2026-06-15"}, {"x": 1}]:
        status, payload = await check_in(client, auth, json=body)
        assert (status, payload["code"], refused_fields(payload)) == (400, 40001, set(body)), payload
    assert (await status_data(client, auth))["today_checked_in"] is False

    for method, path in [("POST", "/v1/checkin"), ("POST", "/v1/checkin/retroactive")]:
        response = await client.request(method, path, json={"x": 1})
        payload = await response.json()
        assert (response.status, payload["code"]) == (401, 40101), (path, payload)
    response = await client.get("/v1/checkin/status?x=1")
    assert (response.status, (await response.json())["code"]) == (401, 40101)
    assert await balance(client, alice_id) == 0


class CheckinSpy:
    """A plugin subscribing to ``checkin.completed``, noting the payloads in arrival order."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    @hookimpl
    def mengchong_subscribers(self, app) -> list[Subscriber]:
        return [Subscriber("test.checkin-spy", (CheckinCompleted,), self.handle)]

    async def handle(self, app, event: Event) -> None:
        self.seen.append(event.payload)


@pytest.fixture
def spy() -> CheckinSpy:
    return CheckinSpy()


@pytest.fixture
def extra_plugins(spy) -> list[tuple[str, object]]:
    return [("checkin_spy", spy)]


async def test_each_check_in_is_one_event_with_the_balance_after_it(client, clock, alice, spy):
    alice_id, auth = alice
    await give_points(client, alice_id, 100)
    await made_up(client, auth, TODAY - timedelta(days=1))
    await checked_in(client, auth)
    status, body = await check_in(client, auth)
    assert status == 409, body
    go_to(clock, TODAY + timedelta(days=1))
    await checked_in(client, auth)

    await eventually(lambda: len(spy.seen) >= 3)
    one = {"user_id": alice_id, "bonus_item_id": None}
    assert spy.seen == [
        one
        | {"date": "2026-06-14", "retroactive": True, "consecutive_days": 1}
        | {"reward_points": BASE, "bonus_points": 0, "balance": 100 - 50 + BASE},
        one
        | {"date": "2026-06-15", "retroactive": False, "consecutive_days": 2}
        | {"reward_points": BASE, "bonus_points": 0, "balance": 100 - 50 + 2 * BASE},
        one
        | {"date": "2026-06-16", "retroactive": False, "consecutive_days": 3}
        | {"reward_points": BASE, "bonus_points": 20, "balance": 100 - 50 + 3 * BASE + 20},
    ]
