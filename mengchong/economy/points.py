"""Points: the only code that changes ``users.points_balance``.

Every change is one conditional UPDATE of the balance (it can't go below zero, and concurrent
changes of one user queue on the row lock) plus one row appended to ``points_ledger`` with the
balance after it, in the caller's transaction, so the ledger's deltas always sum to the balance.
A change carrying a ``ref`` is idempotent: ``(user, reason, ref)`` is unique in the ledger, and
the ledger row goes in with ``ON CONFLICT DO NOTHING``, so a second change with the same key —
retried or concurrent — changes nothing and reports the first one. An applied change records
``points.changed`` (with the balance after it) in the same transaction: it is delivered once the
caller commits, and never when the caller rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

from mengchong.accounts.models import User
from mengchong.accounts.profiles import USERS
from mengchong.economy.models import PointsLedgerEntry
from mengchong.events import PointsChanged, record_event
from mengchong.http.errors import ApiError, ErrorCode, FieldError, not_found
from mengchong.storage.database import Database, fetch_rows
from mengchong.storage.transaction import touch

REASON_MAX = 32
REF_MAX = 64


class InsufficientPoints(ApiError):
    """The balance is smaller than what the change takes; nothing was changed."""

    def __init__(self, needed: int, balance: int) -> None:
        super().__init__(
            ErrorCode.INSUFFICIENT_POINTS,
            f"Not enough points: this needs {needed} and the balance is {balance}",
        )
        self.needed = needed
        self.balance = balance


@dataclass(frozen=True)
class LedgerResult:
    """What a change did. ``applied`` is False when ``ref`` had been used before: then every
    other field describes that earlier change, and ``balance`` is the balance right after it."""

    user_id: int
    delta: int
    balance: int
    reason: str
    ref: str | None
    applied: bool
    entry_id: int

    def event(self) -> PointsChanged:
        return PointsChanged(self.user_id, self.delta, self.balance, self.reason, self.ref)


_SPEND_OR_GRANT = (
    "UPDATE users SET points_balance = points_balance + $2 "
    "WHERE id = $1 AND points_balance + $2 >= 0 RETURNING points_balance"
)
_UNDO = "UPDATE users SET points_balance = points_balance - $2 WHERE id = $1"
_APPEND = (
    "INSERT INTO points_ledger (user_id, delta, reason, ref, balance_after, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, reason, ref) DO NOTHING RETURNING id"
)


def _check_arguments(delta: int, reason: str, ref: str | None) -> None:
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise ValueError(f"delta must be a non-zero int, got {delta!r}")
    if not 1 <= len(reason) <= REASON_MAX:
        raise ValueError(f"reason must be 1-{REASON_MAX} characters, got {reason!r}")
    if ref is not None and not 1 <= len(ref) <= REF_MAX:
        raise ValueError(f"ref must be 1-{REF_MAX} characters, got {ref!r}")


async def _earlier_change(
    connection: BaseDBAsyncClient, user_id: int, reason: str, ref: str
) -> LedgerResult | None:
    entry = (
        await PointsLedgerEntry.filter(user_id=user_id, reason=reason, ref=ref).using_db(connection).first()
    )
    if entry is None:
        return None
    return LedgerResult(
        user_id, entry.delta, entry.balance_after, reason, ref, applied=False, entry_id=entry.id
    )


async def change_points(
    connection: BaseDBAsyncClient, user_id: int, delta: int, reason: str, ref: str | None = None
) -> LedgerResult:
    """Add ``delta`` (negative to spend) to the user's balance and append it to the ledger.

    Call it inside a transaction (``async with db.transaction() as connection``) so the balance,
    its ledger row and its ``points.changed`` event commit together. Raises
    :class:`InsufficientPoints` (nothing changed, the transaction stays usable) or a 404
    :class:`ApiError` for an unknown user.
    """
    _check_arguments(delta, reason, ref)
    if not isinstance(connection, TransactionalDBClient):
        raise TypeError("change_points needs a transaction's connection: use `async with db.transaction()`")

    updated = await fetch_rows(connection, _SPEND_OR_GRANT, [user_id, delta])
    if not updated:
        if ref is not None and (earlier := await _earlier_change(connection, user_id, reason, ref)):
            return earlier  # a retry of a spend that went through while the balance allowed it
        balance = await User.filter(id=user_id).using_db(connection).values_list("points_balance", flat=True)
        if not balance:
            raise not_found("User")
        raise InsufficientPoints(-delta, int(balance[0]))
    balance_after = int(updated[0]["points_balance"])
    if not touch(connection, USERS, user_id):  # a kept profile would show the old balance
        raise TypeError("change_points needs a transaction of Database.transaction()")

    now = datetime.now(UTC)
    appended = await fetch_rows(connection, _APPEND, [user_id, delta, reason, ref, balance_after, now])
    if appended:
        result = LedgerResult(
            user_id, delta, balance_after, reason, ref, applied=True, entry_id=appended[0]["id"]
        )
        await record_event(connection, result.event())
        return result

    # (user, reason, ref) is already in the ledger. This transaction has held the user's row
    # since the UPDATE above, so subtracting the delta again restores the balance exactly.
    await fetch_rows(connection, _UNDO, [user_id, delta])
    earlier = await _earlier_change(connection, user_id, reason, str(ref))
    if earlier is None:  # the conflicting row is committed and rows are never deleted
        raise RuntimeError(f"ledger conflict on {(user_id, reason, ref)} but no such entry")
    return earlier


class RefReused(ApiError):
    """An exclusive ref already names another change of the user's; nothing was changed."""

    def __init__(self, field: str) -> None:
        super().__init__(
            ErrorCode.UNPROCESSABLE,
            f"{field} was already used for a different change",
            [FieldError(field, "was already used for a different change")],
        )


async def _ensure_only_change(
    connection: BaseDBAsyncClient, result: LedgerResult, delta: int, reason: str, ref_field: str
) -> None:
    """Raise :class:`RefReused` unless the user's ledger holds one change under ``result.ref``,
    and it is this one (same delta and reason). Called after :func:`change_points` updated the
    user's row, so a concurrent change of the same user waits for this transaction to end."""
    same_ref = (
        await PointsLedgerEntry.filter(user_id=result.user_id, ref=result.ref)
        .using_db(connection)
        .values_list("delta", "reason")
    )
    if any((entry_delta, entry_reason) != (delta, reason) for entry_delta, entry_reason in same_ref):
        raise RefReused(ref_field)


async def _change_alone(
    db: Database,
    user_id: int,
    delta: int,
    reason: str,
    ref: str | None,
    exclusive_ref_field: str | None = None,
) -> LedgerResult:
    with db.activate():
        async with db.transaction() as connection:
            result = await change_points(connection, user_id, delta, reason, ref)
            if exclusive_ref_field is not None and ref is not None:
                await _ensure_only_change(connection, result, delta, reason, exclusive_ref_field)
    return result


def _positive(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive int, got {amount!r}")
    return amount


async def grant_points(
    db: Database,
    user_id: int,
    amount: int,
    reason: str,
    ref: str | None = None,
) -> LedgerResult:
    """Give the user ``amount`` points in a transaction of its own (``points.changed`` with it)."""
    return await _change_alone(db, user_id, _positive(amount), reason, ref)


async def spend_points(
    db: Database,
    user_id: int,
    amount: int,
    reason: str,
    ref: str | None = None,
) -> LedgerResult:
    """Take ``amount`` points in a transaction of its own, or raise :class:`InsufficientPoints`."""
    return await _change_alone(db, user_id, -_positive(amount), reason, ref)


async def adjust_points(
    db: Database,
    user_id: int,
    delta: int,
    reason: str,
    ref: str | None = None,
    *,
    ref_field: str = "ref",
) -> LedgerResult:
    """An operator's change of ``delta`` points (negative to take), in a transaction of its own.

    Its ``ref`` (an idempotency key) names one change of the user's whatever the reason: sent
    again with the same delta and reason it reports the first change; with another delta or
    reason it raises :class:`RefReused` (422 naming ``ref_field``) and changes nothing."""
    return await _change_alone(db, user_id, delta, reason, ref, ref_field)
