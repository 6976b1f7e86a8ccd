"""Each documented guarantee of the points service on its own, on SQLite and PostgreSQL.

Written against the module's surviving mutants (issue 16): every test that changes a balance
has a second user whose balance and ledger must not move, an idempotency key is looked up by
user *and* reason *and* ref, and every limit is tested at exactly the threshold and one past it.
Numbers are literals on purpose: a test computing ``REF_MAX + 1`` would follow a mutated limit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mengchong.accounts.models import User
from mengchong.economy.models import PointsLedgerEntry
from mengchong.economy.points import (
    REASON_MAX,
    REF_MAX,
    InsufficientPoints,
    LedgerResult,
    RefReused,
    adjust_points,
    change_points,
    grant_points,
    spend_points,
)
from mengchong.events import Event, PointsChanged
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.storage.models import OutboxEvent


async def state_of(database, user_id: int) -> tuple[int, list[tuple[int, str, str | None, int]]]:
    """The user's balance and ledger rows ``(delta, reason, ref, balance_after)`` in order."""
    with database.activate():
        balance = (await User.get(id=user_id)).points_balance
        entries = await PointsLedgerEntry.filter(user_id=user_id).order_by("id")
    return balance, [(e.delta, e.reason, e.ref, e.balance_after) for e in entries]


async def change(database, user_id: int, delta: Any, reason: str, ref: str | None = None) -> LedgerResult:
    with database.activate():
        async with database.transaction() as connection:
            return await change_points(connection, user_id, delta, reason, ref)


# --- limits -------------------------------------------------------------------------------


def test_the_limits_are_the_ledger_columns_widths():
    """A limit past the column would fail in PostgreSQL (and be stored whole in SQLite)."""
    fields = PointsLedgerEntry._meta.fields_map
    assert (REASON_MAX, REF_MAX) == (32, 64)
    assert (fields["reason"].max_length, fields["ref"].max_length) == (32, 64)


@pytest.mark.parametrize(("reason", "ref"), [("r", "f"), ("r" * 32, "f" * 64), ("r" * 32, None)])
async def test_reason_and_ref_at_their_limits_are_accepted(database, make_user, reason, ref):
    user = await make_user()
    result = await change(database, user.id, 1, reason, ref)
    assert (result.applied, result.reason, result.ref) == (True, reason, ref)
    assert await state_of(database, user.id) == (1, [(1, reason, ref, 1)])


@pytest.mark.parametrize(
    ("reason", "ref", "message"),
    [
        ("", None, "reason must be 1-32 characters"),
        ("r" * 33, None, "reason must be 1-32 characters"),
        ("r", "", "ref must be 1-64 characters"),
        ("r", "f" * 65, "ref must be 1-64 characters"),
    ],
)
async def test_reason_or_ref_one_past_a_limit_is_refused(database, make_user, reason, ref, message):
    user = await make_user(points=5)
    with pytest.raises(ValueError, match=message):
        await change(database, user.id, 1, reason, ref)
    with pytest.raises(ValueError, match=message):
        await grant_points(database, user.id, 1, reason, ref)
    with pytest.raises(ValueError, match=message):
        await adjust_points(database, user.id, -1, reason, ref)
    assert await state_of(database, user.id) == (5, [(5, "test.seed", None, 5)])


@pytest.mark.parametrize("delta", [True, False, 0, 1.0, "1", None])
async def test_a_delta_that_is_not_a_non_zero_int_is_refused(database, make_user, delta):
    user = await make_user(points=5)
    with pytest.raises(ValueError, match="delta must be a non-zero int"):
        await change(database, user.id, delta, "test")
    with pytest.raises(ValueError, match="delta must be a non-zero int"):
        await adjust_points(database, user.id, delta, "test")
    assert await state_of(database, user.id) == (5, [(5, "test.seed", None, 5)])


@pytest.mark.parametrize("amount", [True, False, 0, -1, 1.0, "1"])
async def test_an_amount_that_is_not_a_positive_int_is_refused(database, make_user, amount):
    user = await make_user(points=5)
    for operation in (grant_points, spend_points):
        with pytest.raises(ValueError, match="amount must be a positive int"):
            await operation(database, user.id, amount, "test")
    assert await state_of(database, user.id) == (5, [(5, "test.seed", None, 5)])


async def test_the_smallest_changes_either_way_are_applied(database, make_user):
    user = await make_user(points=1)
    assert (await change(database, user.id, -1, "test")).balance == 0
    assert (await change(database, user.id, 1, "test")).balance == 1
    assert (await grant_points(database, user.id, 1, "test")).balance == 2
    assert (await spend_points(database, user.id, 1, "test")).balance == 1
    assert (await adjust_points(database, user.id, -1, "test")).balance == 0


# --- one user's change never touches another's ---------------------------------------------


async def test_changes_of_one_user_leave_another_untouched(database, make_user):
    alice, bob = await make_user(points=20), await make_user(points=7)
    bob_before = await state_of(database, bob.id)

    assert (await grant_points(database, alice.id, 10, "checkin", "d1")).balance == 30
    assert (await grant_points(database, alice.id, 10, "checkin", "d1")).applied is False  # undone
    assert (await spend_points(database, alice.id, 30, "mall.order")).balance == 0
    with pytest.raises(InsufficientPoints) as raised:
        await spend_points(database, alice.id, 1, "mall.order")
    assert (raised.value.needed, raised.value.balance) == (1, 0)
    assert (await adjust_points(database, alice.id, 4, "admin", "k1")).balance == 4

    assert await state_of(database, bob.id) == bob_before
    balance, entries = await state_of(database, alice.id)
    assert (balance, [e[0] for e in entries]) == (4, [20, 10, -30, 4])


async def test_insufficient_points_reports_the_users_own_balance(database, make_user):
    rich, poor = await make_user(points=100), await make_user(points=3)
    with pytest.raises(InsufficientPoints) as raised:
        await spend_points(database, poor.id, 4, "mall.order")
    assert (raised.value.needed, raised.value.balance) == (4, 3)
    assert raised.value.message == "Not enough points: this needs 4 and the balance is 3"
    assert (raised.value.code, raised.value.status) == (ErrorCode.INSUFFICIENT_POINTS, 422)
    assert (await state_of(database, rich.id))[0] == 100


async def test_an_unknown_user_is_not_found_with_or_without_a_ref(database, make_user):
    user = await make_user(points=5)
    await spend_points(database, user.id, 1, "mall.order", "order-1")
    for ref in (None, "order-1"):
        with pytest.raises(ApiError) as raised:
            await spend_points(database, 987_654, 1, "mall.order", ref)
        assert (raised.value.code, raised.value.message) == (ErrorCode.NOT_FOUND, "User not found")


# --- idempotency: a ref is looked up by user, reason and ref together ----------------------


async def test_a_ref_used_under_another_reason_is_not_taken_as_paid(database, make_user):
    user = await make_user()
    await grant_points(database, user.id, 10, "checkin", "r-1")
    with pytest.raises(InsufficientPoints) as raised:
        await spend_points(database, user.id, 50, "mall.order", "r-1")
    assert (raised.value.needed, raised.value.balance) == (50, 10)
    assert await state_of(database, user.id) == (10, [(10, "checkin", "r-1", 10)])


async def test_another_users_ref_is_not_taken_as_paid(database, make_user):
    payer, other = await make_user(points=30), await make_user()
    await spend_points(database, payer.id, 30, "mall.order", "order-1")
    with pytest.raises(InsufficientPoints):
        await spend_points(database, other.id, 30, "mall.order", "order-1")
    assert await state_of(database, other.id) == (0, [])


async def test_a_change_without_a_ref_is_never_taken_as_a_retry(database, make_user):
    user = await make_user(points=15)
    await spend_points(database, user.id, 10, "mall.order")
    with pytest.raises(InsufficientPoints):
        await spend_points(database, user.id, 10, "mall.order")
    assert (await state_of(database, user.id))[0] == 5


async def test_a_retry_reports_its_own_earlier_change_not_a_neighbours(database, make_user):
    """Same ref under an earlier reason, and under another user earlier still: the retry must
    report the entry of its own (user, reason, ref), whichever row the table holds first."""
    other, user = await make_user(), await make_user()
    await grant_points(database, other.id, 7, "streak", "d1")
    await grant_points(database, user.id, 10, "checkin", "d1")
    first = await grant_points(database, user.id, 5, "streak", "d1")

    retry = await grant_points(database, user.id, 5, "streak", "d1")
    assert retry == LedgerResult(user.id, 5, 15, "streak", "d1", False, first.entry_id)
    assert await state_of(database, user.id) == (15, [(10, "checkin", "d1", 10), (5, "streak", "d1", 15)])
    assert await state_of(database, other.id) == (7, [(7, "streak", "d1", 7)])


async def test_a_retried_spend_the_balance_no_longer_covers_reports_its_own_change(database, make_user):
    other, user = await make_user(points=50), await make_user(points=20)
    await spend_points(database, other.id, 40, "mall.order", "o-1")
    await spend_points(database, user.id, 3, "mall.gift", "o-1")
    first = await spend_points(database, user.id, 17, "mall.order", "o-1")

    retry = await spend_points(database, user.id, 17, "mall.order", "o-1")
    assert retry == LedgerResult(user.id, -17, 0, "mall.order", "o-1", False, first.entry_id)
    assert (await state_of(database, user.id))[0] == 0


async def test_a_refused_spend_leaves_its_ref_free(database, make_user):
    user = await make_user(points=10)
    with pytest.raises(InsufficientPoints):
        await spend_points(database, user.id, 50, "mall.order", "o-2")
    await grant_points(database, user.id, 40, "test")
    assert (await spend_points(database, user.id, 50, "mall.order", "o-2")).applied
    assert (await state_of(database, user.id))[0] == 0


# --- events ---------------------------------------------------------------------------------


async def test_each_applied_change_records_its_event_in_its_transaction(database, make_user):
    """points.changed goes into the outbox with the change: once per applied change, none for a
    replay or a refused spend, the balance after each change in its payload."""
    user, other = await make_user(points=10), await make_user(points=10)
    with database.activate():
        setup = await OutboxEvent.all().values_list("id", flat=True)  # the users' starting points
    granted = await grant_points(database, user.id, 5, "checkin", "d1")
    await grant_points(database, user.id, 5, "checkin", "d1")
    await spend_points(database, user.id, 3, "mall.order")
    with pytest.raises(InsufficientPoints):
        await spend_points(database, user.id, 100, "mall.order")
    await adjust_points(database, user.id, -2, "admin", "k1")
    await adjust_points(database, user.id, -2, "admin", "k1")

    assert granted.event() == PointsChanged(user.id, 5, 15, "checkin", "d1")
    with database.activate():
        rows = await OutboxEvent.exclude(id__in=setup).order_by("id").values_list("name", "payload")
    assert [name for name, _ in rows] == ["points.changed"] * 3
    assert [Event.from_dict(payload).data(PointsChanged) for _, payload in rows] == [
        PointsChanged(user.id, 5, 15, "checkin", "d1"),
        PointsChanged(user.id, -3, 12, "mall.order", None),
        PointsChanged(user.id, -2, 10, "admin", "k1"),
    ]
    assert other.id not in {payload["payload"]["user_id"] for _, payload in rows}


async def test_a_change_rolled_back_by_its_caller_records_no_event(database, make_user):
    user = await make_user(points=10)
    with database.activate():
        setup = await OutboxEvent.all().count()

    async def failing_order() -> None:
        async with database.transaction() as connection:
            await change_points(connection, user.id, -4, "mall.order", "o-1")
            raise RuntimeError("stock ran out")

    with database.activate():
        with pytest.raises(RuntimeError):
            await failing_order()
        assert await OutboxEvent.all().count() == setup
    assert (await state_of(database, user.id))[0] == 10


async def test_a_result_is_immutable(database, make_user):
    """Callers hand results around (events, responses): none of them can alter what was done."""
    user = await make_user()
    result = await grant_points(database, user.id, 5, "checkin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.balance = 500  # type: ignore[misc]
    assert hash(result) == hash(dataclasses.replace(result))


async def test_the_services_take_their_arguments_by_name_and_their_options_only_by_name(database, make_user):
    """Callers name the arguments; ``ref_field`` must be named, so a positional argument can never
    land in it."""
    user = await make_user()
    by_name = {"user_id": user.id, "reason": "checkin", "ref": "d1"}
    assert (await grant_points(database, amount=5, **by_name)).balance == 5
    assert (await spend_points(database, amount=2, **{**by_name, "ref": "o1"})).balance == 3
    assert (await adjust_points(database, delta=-1, ref_field="Key", **{**by_name, "ref": "k1"})).balance == 2
    with pytest.raises(TypeError):
        await adjust_points(database, user.id, -1, "admin", "k2", "Key")  # type: ignore[misc]
    assert (await state_of(database, user.id))[0] == 2


# --- adjust_points: an exclusive ref names one change of the user's ------------------------


async def test_an_adjustment_sent_again_reports_the_first(database, make_user):
    user = await make_user(points=10)
    first = await adjust_points(database, user.id, -4, "admin", "k1")
    again = await adjust_points(database, user.id, -4, "admin", "k1")
    assert again == LedgerResult(user.id, -4, 6, "admin", "k1", False, first.entry_id)
    assert (await state_of(database, user.id))[0] == 6


@pytest.mark.parametrize(("delta", "reason"), [(3, "admin.bonus"), (4, "admin"), (-3, "admin")])
async def test_an_adjustment_reusing_a_ref_for_another_change_is_refused(database, make_user, delta, reason):
    """Another reason alone, another delta alone, another sign alone: each is another change."""
    user = await make_user(points=10)
    await adjust_points(database, user.id, 3, "admin", "k1")
    before = await state_of(database, user.id)

    with pytest.raises(RefReused) as raised:
        await adjust_points(database, user.id, delta, reason, "k1", ref_field="Idempotency-Key")
    assert (raised.value.code, raised.value.status) == (ErrorCode.UNPROCESSABLE, 422)
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("Idempotency-Key", "was already used for a different change")
    ]
    assert raised.value.message == "Idempotency-Key was already used for a different change"
    assert await state_of(database, user.id) == before


async def test_an_adjustment_reusing_a_grants_ref_is_refused_naming_ref_by_default(database, make_user):
    user = await make_user()
    await grant_points(database, user.id, 10, "checkin", "d1")
    with pytest.raises(RefReused) as raised:
        await adjust_points(database, user.id, 10, "admin", "d1")
    assert [e.field for e in raised.value.errors] == ["ref"]
    assert await state_of(database, user.id) == (10, [(10, "checkin", "d1", 10)])


async def test_another_users_ref_does_not_block_an_adjustment(database, make_user):
    alice, bob = await make_user(points=10), await make_user(points=10)
    await adjust_points(database, alice.id, 5, "admin", "k1")
    result = await adjust_points(database, bob.id, -2, "admin.fine", "k1")
    assert (result.applied, result.balance) == (True, 8)


async def test_adjustments_without_a_ref_are_all_applied(database, make_user):
    user = await make_user(points=10)
    await adjust_points(database, user.id, 5, "admin")
    result = await adjust_points(database, user.id, -2, "admin.fine")
    assert (result.applied, result.balance) == (True, 13)
    assert len((await state_of(database, user.id))[1]) == 3
