"""The boards' arithmetic, pure (no I/O, no clock of its own): primary scores, the member that
encodes the tie-break, instants as epoch milliseconds, and the local ISO weeks of the weekly
boards with their expiry.

Tie-break: a sorted set orders equal scores by member, and ZREVRANGE returns them in reverse
lexicographic order. A member is ``f"{10**13 - reached_ms:013d}|{id}"``: the earlier an entry
reached its score, the larger its fixed-width prefix, so it comes first among its equals.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from mengchong.clock import local_iso_week, require_aware, start_of_local_day

PET_LEVEL_FACTOR = 1_000_000_000
"""A pet's primary score is ``level * PET_LEVEL_FACTOR + experience`` (exact in a double up to
level 9,000,000: sorted-set scores are doubles)."""
TIME_SPAN = 10**13
"""Milliseconds since the epoch below this (the year 2286) fit the member's 13 digits."""
PREFIX_LENGTH = 13
SEPARATOR = "|"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
ONE_US = timedelta(microseconds=1)
WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")
ONE_WEEK = timedelta(days=7)


def pet_score(level: int, experience: int) -> int:
    """A pet's primary score: any higher level beats any experience."""
    if level < 0 or not 0 <= experience < PET_LEVEL_FACTOR:
        raise ValueError(f"level {level} / experience {experience} out of range")
    return level * PET_LEVEL_FACTOR + experience


def split_pet_score(score: float) -> tuple[int, int]:
    """``(level, experience)`` of a pet's primary score."""
    level, experience = divmod(int(score), PET_LEVEL_FACTOR)
    return level, experience


def _aware(moment: datetime | str) -> datetime:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    require_aware(value, "moment")
    return value


def epoch_ms(moment: datetime | str) -> int:
    """An instant (aware datetime, or ISO 8601 text with an offset) as epoch milliseconds."""
    return (_aware(moment) - EPOCH) // ONE_MS


def epoch_us(moment: datetime | str) -> int:
    """The same in microseconds (exact in a double, as Lua reads it, until the year 2255)."""
    return (_aware(moment) - EPOCH) // ONE_US


def member(reached_ms: int, entry_id: str, owner: int | None = None) -> str:
    """The sorted-set member of an entry (a user id or a pet id) that reached its score at
    ``reached_ms``: of two equal scores, the earlier one ranks higher. An entry that is not a
    user (a pet) carries its ``owner`` after its id, so a page's script can answer the owner's
    row version with the page (ids are unique: the owner never changes an order)."""
    if not 0 < reached_ms < TIME_SPAN:
        raise ValueError(f"reached_ms {reached_ms} is outside 1..10**13 - 1")
    if not entry_id or SEPARATOR in entry_id:
        raise ValueError(f"entry id {entry_id!r}: non-empty, without {SEPARATOR!r}")
    encoded = f"{TIME_SPAN - reached_ms:0{PREFIX_LENGTH}d}{SEPARATOR}{entry_id}"
    return encoded if owner is None else f"{encoded}{SEPARATOR}{owner}"


def member_id(encoded: str | bytes) -> str:
    """The entry id a member encodes."""
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    return text[PREFIX_LENGTH + 1 :].partition(SEPARATOR)[0]


def member_owner(encoded: str | bytes) -> int | None:
    """The owner a pet's member carries; None for a user's, or one written before owners were."""
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    owner = text[PREFIX_LENGTH + 1 :].partition(SEPARATOR)[2]
    return int(owner) if owner else None


def reached_ms(encoded: str | bytes) -> int:
    """When the entry a member encodes reached its score (epoch milliseconds)."""
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    return TIME_SPAN - int(text[:PREFIX_LENGTH])


# --- Local ISO weeks -------------------------------------------------------------------------


def week_of(moment: datetime, timezone: str) -> str:
    """The local ISO week (``YYYY-Www``) of an instant: a new one every Monday 00:00 in
    ``timezone``."""
    return local_iso_week(moment, timezone)


def week_monday(week: str) -> date:
    """The Monday of an ISO week ``YYYY-Www``; ValueError when the text is not one, or the year
    has no such week (W53 of a 52-week year)."""
    found = WEEK_PATTERN.fullmatch(week) if isinstance(week, str) else None
    if found is None:
        raise ValueError(f"{week!r} is not an ISO week YYYY-Www")
    year, number = int(found[1]), int(found[2])
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {number}") from None


def week_start(week: str, timezone: str) -> datetime:
    """The first instant (UTC) of the week: its Monday's local midnight."""
    return start_of_local_day(week_monday(week), timezone)


def week_end(week: str, timezone: str) -> datetime:
    """The first instant (UTC) of the following week."""
    return start_of_local_day(week_monday(week) + ONE_WEEK, timezone)


def weeks_between(earlier: str, later: str) -> int:
    """How many weeks ``later`` is after ``earlier`` (negative when it is before)."""
    return (week_monday(later) - week_monday(earlier)).days // 7


def previous_weeks(current: str, count: int) -> list[str]:
    """``current`` and the ``count - 1`` weeks before it, newest first."""
    monday = week_monday(current)
    weeks = []
    for back in range(count):
        year, number, _ = (monday - back * ONE_WEEK).isocalendar()
        weeks.append(f"{year:04d}-W{number:02d}")
    return weeks


def week_ttl_seconds(week: str, timezone: str, weeks_kept: int, now: datetime) -> int:
    """Seconds from ``now`` until the week's board expires: ``weeks_kept`` weeks after the week
    ends. Zero or less: the week is no longer kept (nothing is written to it)."""
    require_aware(now, "now")
    expires = week_end(week, timezone) + weeks_kept * ONE_WEEK
    return int((expires - now).total_seconds())
