"""The application's one clock, and local days.

Code that needs the time reads ``app[clock_key].now()`` (:data:`mengchong.keys.clock_key`),
never ``datetime.now()`` itself, so that a test can put a :class:`ManualClock` there and cross a
midnight or an expiry exactly. ``create_app`` puts a :class:`SystemClock` there unless it is
given another.

Days, months and weeks that rules count (daily caps, check-ins, monthly and weekly boards) are
those of a time zone (``app.timezone``, Asia/Shanghai by default), never UTC dates. The
functions below are pure: the instant comes in, timezone-aware (a naive ``datetime`` is a
``ValueError``); the zone is an IANA name. Local midnights are found by the zone's own rules,
so days of 23 or 25 hours (DST) and days that start at 01:00 (a DST gap at midnight) come out
right.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told: ``set`` it to an instant or ``advance`` it."""

    def __init__(self, start: datetime) -> None:
        self._now = _utc(start, "start")

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> datetime:
        """Move to ``moment`` (forwards or backwards); returns it in UTC."""
        self._now = _utc(moment, "moment")
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move on by ``delta`` (a timedelta, or seconds); returns the new instant."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        self._now += step
        return self._now


def require_aware(moment: datetime, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``moment`` is timezone-aware."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def local_day(now: datetime, timezone: str) -> date:
    """The calendar day of ``now`` in ``timezone`` (e.g. Asia/Shanghai)."""
    require_aware(now, "now")
    return now.astimezone(ZoneInfo(timezone)).date()


def local_month(now: datetime, timezone: str) -> str:
    """The month of ``now`` in ``timezone``, as ``"YYYY-MM"``."""
    return local_day(now, timezone).strftime("%Y-%m")


def local_iso_week(now: datetime, timezone: str) -> str:
    """The ISO week of ``now`` in ``timezone`` (Monday first; week 1 holds the year's first
    Thursday), as ``"YYYY-Www"``: 2027-01-01, a Friday, is ``"2026-W53"``."""
    year, week, _ = local_day(now, timezone).isocalendar()
    return f"{year:04d}-W{week:02d}"


def start_of_local_day(day: date, timezone: str) -> datetime:
    """The first instant (in UTC) of ``day`` in ``timezone``.

    Local midnight, or, where a DST gap swallows midnight (America/Havana in March), the
    instant the clocks jump: the zone's rules read a wall time inside a gap with the offset in
    force before it, which lands exactly there when the gap starts at midnight, as it does in
    every zone of the tz database. A day a zone skipped entirely (Pacific/Apia, 2011-12-30)
    starts when the next one does.
    """
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def seconds_until_next_local_day(now: datetime, timezone: str) -> float:
    """Seconds from ``now`` to the start of the next local day in ``timezone``: when daily
    caps reset (86,400 on most days, 82,800 or 90,000 from the midnight before a DST change)."""
    following = start_of_local_day(local_day(now, timezone) + timedelta(days=1), timezone)
    return (following - now).total_seconds()


def _utc(moment: datetime, name: str) -> datetime:
    require_aware(moment, name)
    return moment.astimezone(UTC)
