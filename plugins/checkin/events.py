"""The event the check-in plugin publishes, recorded in the check-in's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mengchong.events import EventPayload


@dataclass(frozen=True)
class CheckinCompleted(EventPayload):
    """A user checked in for ``date`` (a make-up day when ``retroactive``); ``balance`` is the
    points balance after its rewards, ``consecutive_days`` today's streak after it."""

    NAME: ClassVar[str] = "checkin.completed"
    user_id: int
    date: str
    retroactive: bool
    consecutive_days: int
    reward_points: int
    bonus_points: int
    bonus_item_id: str | None
    balance: int
