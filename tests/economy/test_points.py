"""The points service on SQLite and PostgreSQL: the ledger always sums to the balance, a balance
never goes negative however many changes race, and a change with a ref applies once."""

from __future__ import annotations

import asyncio

import pytest

from mengchong.accounts.models import User
from mengchong.economy.models import PointsLedgerEntry
from mengchong.economy.points import (
    InsufficientPoints,
    LedgerResult,
    change_points,
    grant_points,
    spend_points,
)
from mengchong.http.errors import ApiError, ErrorCode


async def balance_of(database, user_id: int) -> int:
    with database.activate():
        return (await User.get(id=user_id)).points_balance


async def ledger_of(database, user_id: int) -> list[PointsLedgerEntry]:
    with database.activate():
        return await PointsLedgerEntry.filter(user_id=user_id).order_by("id")


async def assert_ledger_matches_balance(database, user_id: int) -> list[PointsLedgerEntry]:
    """Deltas sum to the balance, and each entry's balance_after follows from the one before."""
    entries = await ledger_of(database, user_id)
    balance = await balance_of(database, user_id)
    assert sum(entry.delta for entry in entries) == balance
    running = 0
    for entry in entries:
        running += entry.delta
        assert entry.balance_after == running >= 0, f"entry {entry.id} breaks the chain"
    return entries


async def test_grant_and_spend_move_the_balance_and_append_to_the_ledger(database, make_user):
    user = await make_user()
    granted = await grant_points(database, user.id, 100, "checkin", "2024-05-01")
    spent = await spend_points(database, user.id, 30, "mall.order")

    assert granted == LedgerResult(user.id, 100, 100, "checkin", "2024-05-01", True, granted.entry_id)
    assert spent == LedgerResult(user.id, -30, 70, "mall.order", None, True, spent.entry_id)
    assert await balance_of(database, user.id) == 70
    entries = await assert_ledger_matches_balance(database, user.id)
    assert [(e.id, e.delta, e.reason, e.ref, e.balance_after) for e in entries] == [
        (granted.entry_id, 100, "checkin", "2024-05-01", 100),
        (spent.entry_id, -30, "mall.order", None, 70),
    ]
    assert all(entry.created_at.utcoffset() is not None for entry in entries)


async def test_spending_more_than_the_balance_fails_and_changes_nothing(database, make_user):
    user = await make_user(points=10)
    with pytest.raises(InsufficientPoints) as raised:
        await spend_points(database, user.id, 11, "mall.order")

    assert raised.value.code == ErrorCode.INSUFFICIENT_POINTS == 42201
    assert raised.value.status == 422
    assert (raised.value.needed, raised.value.balance) == (11, 10)
    assert await balance_of(database, user.id) == 10
    assert len(await assert_ledger_matches_balance(database, user.id)) == 1
    # Spending exactly the balance is allowed and leaves zero.
    assert (await spend_points(database, user.id, 10, "mall.order")).balance == 0


async def test_a_refused_spend_leaves_the_callers_transaction_usable(database, make_user):
    """The refusal is a conditional UPDATE that matched nothing, not a failed statement, so a
    caller may catch it and carry on (on PostgreSQL an error would abort the transaction)."""
    user = await make_user(points=5)
    with database.activate():
        async with database.transaction() as connection:
            with pytest.raises(InsufficientPoints):
                await change_points(connection, user.id, -6, "mall.order")
            result = await change_points(connection, user.id, -5, "mall.order")
    assert result.balance == 0
    assert await balance_of(database, user.id) == 0
    await assert_ledger_matches_balance(database, user.id)


async def test_the_change_commits_or_rolls_back_with_the_callers_transaction(database, make_user):
    user = await make_user(points=50)

    async def failing_order() -> None:
        with database.activate():
            async with database.transaction() as connection:
                await change_points(connection, user.id, -20, "mall.order", "order-1")
                raise RuntimeError("order failed")

    with pytest.raises(RuntimeError, match="order failed"):
        await failing_order()
    assert await balance_of(database, user.id) == 50
    assert len(await assert_ledger_matches_balance(database, user.id)) == 1
    # The ref was rolled back with everything else, so it can still be used.
    assert (await spend_points(database, user.id, 20, "mall.order", "order-1")).applied


async def test_change_points_refuses_a_connection_outside_a_transaction(database, make_user):
    user = await make_user(points=5)
    with database.activate(), pytest.raises(TypeError, match="transaction"):
        await change_points(database.connection, user.id, 1, "test")
    assert await balance_of(database, user.id) == 5


@pytest.mark.parametrize(
    ("delta", "reason", "ref"), [(0, "test", None), (1, "", None), (1, "x" * 33, None), (1, "test", "")]
)
async def test_change_points_refuses_malformed_arguments(database, make_user, delta, reason, ref):
    user = await make_user()
    with database.activate(), pytest.raises(ValueError, match="must be"):
        async with database.transaction() as connection:
            await change_points(connection, user.id, delta, reason, ref)
    with pytest.raises(ValueError, match="positive"):
        await grant_points(database, user.id, -1, "test")
    assert await ledger_of(database, user.id) == []


async def test_an_unknown_user_is_not_found(database):
    for change in (grant_points, spend_points):
        with pytest.raises(ApiError) as raised:
            await change(database, 987_654, 5, "test")
        assert (raised.value.code, raised.value.status) == (ErrorCode.NOT_FOUND, 404)


async def test_200_concurrent_grants_and_spends_keep_the_ledger_equal_to_the_balance(database, make_user):
    users = [await make_user(points=40), await make_user(points=0)]

    async def change(n: int) -> LedgerResult:
        user = users[n % 2]
        if n % 3 == 0:
            return await grant_points(database, user.id, 5, "test.grant")
        return await spend_points(database, user.id, 7, "test.spend")

    outcomes = await asyncio.gather(*(change(n) for n in range(200)), return_exceptions=True)

    failures = [o for o in outcomes if not isinstance(o, LedgerResult)]
    assert all(isinstance(o, InsufficientPoints) for o in failures), failures[:3]
    applied = [o for o in outcomes if isinstance(o, LedgerResult)]
    assert any(o.delta < 0 for o in applied), "some spends should go through"
    assert failures, "some spends should be refused"
    for user, start in zip(users, (40, 0), strict=True):
        mine = [o for o in applied if o.user_id == user.id]
        entries = await assert_ledger_matches_balance(database, user.id)
        assert len(entries) == len(mine) + (1 if start else 0)
        assert await balance_of(database, user.id) == start + sum(o.delta for o in mine)


async def test_a_grant_with_a_ref_applies_once(database, make_user):
    user = await make_user()
    first = await grant_points(database, user.id, 10, "checkin", "2024-05-01")
    again = await grant_points(database, user.id, 10, "checkin", "2024-05-01")
    other_day = await grant_points(database, user.id, 10, "checkin", "2024-05-02")
    other_reason = await grant_points(database, user.id, 10, "checkin.streak", "2024-05-01")

    assert [first.applied, other_day.applied, other_reason.applied] == [True, True, True]
    assert again == LedgerResult(user.id, 10, 10, "checkin", "2024-05-01", False, first.entry_id)
    assert await balance_of(database, user.id) == 30
    assert len(await assert_ledger_matches_balance(database, user.id)) == 3


async def test_20_concurrent_grants_with_one_ref_apply_once(database, make_user):
    user = await make_user()
    results = await asyncio.gather(
        *(grant_points(database, user.id, 10, "checkin", "2024-05-01") for _ in range(20))
    )
    assert sum(result.applied for result in results) == 1
    assert {result.entry_id for result in results} == {next(r.entry_id for r in results if r.applied)}
    assert {result.balance for result in results} == {10}
    assert await balance_of(database, user.id) == 10
    assert len(await assert_ledger_matches_balance(database, user.id)) == 1


async def test_20_concurrent_spends_with_one_ref_take_the_points_once(database, make_user):
    user = await make_user(points=100)
    results = await asyncio.gather(
        *(spend_points(database, user.id, 30, "mall.order", "order-7") for _ in range(20))
    )
    assert sum(result.applied for result in results) == 1
    assert await balance_of(database, user.id) == 70
    assert len(await assert_ledger_matches_balance(database, user.id)) == 2


async def test_a_retried_spend_reports_the_first_even_when_the_balance_no_longer_covers_it(
    database, make_user
):
    user = await make_user(points=30)
    first = await spend_points(database, user.id, 30, "mall.order", "order-8")
    retry = await spend_points(database, user.id, 30, "mall.order", "order-8")
    assert retry == LedgerResult(user.id, -30, 0, "mall.order", "order-8", False, first.entry_id)
    assert await balance_of(database, user.id) == 0
    with pytest.raises(InsufficientPoints):
        await spend_points(database, user.id, 30, "mall.order", "order-9")
