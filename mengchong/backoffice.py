"""What a plugin shows and does in the operator console, without knowing the console: a
:class:`Section` is a table (with filters) and the actions an operator may take on it, each a
coroutine over the plugin's own services. The console plugin draws them, signs operators in,
checks CSRF tokens, applies each submitted form once and writes the audit log; a plugin returns
its sections from the ``mengchong_console_sections`` hook, and the figures it adds to the
dashboard (:class:`Figure`) from ``mengchong_console_figures``, and what it shows on a user's page
(:class:`UserPanel`) from ``mengchong_console_user_panels``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web


@dataclass(frozen=True)
class Field:
    """One input of a filter or an action's form; values arrive as text (empty when not given)."""

    name: str
    label: str
    kind: Literal["text", "number", "select", "checkbox"] = "text"
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Change:
    """What an action did: the audit log's target, the values before and after, and the line
    the operator reads."""

    target: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    message: str


@dataclass(frozen=True)
class Action:
    """A form of the section (``per_row``: a button on each row, whose key arrives as ``key``).
    ``run`` raises :class:`mengchong.http.errors.ApiError` to refuse, with its message shown."""

    name: str
    label: str
    run: Callable[[web.Application, Mapping[str, str]], Awaitable[Change]]
    fields: tuple[Field, ...] = ()
    per_row: bool = False


@dataclass(frozen=True)
class Table:
    """A page of rows, each with the key a per-row action gets, and how many rows there are."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    keys: list[str]
    total: int


@dataclass(frozen=True)
class Figure:
    """A number on the console's dashboard: ``read(app)``, e.g. today's check-ins."""

    label: str
    read: Callable[[web.Application], Awaitable[int]]


@dataclass(frozen=True)
class UserPanel:
    """A table on a user's page of the console: ``read(app, user_id)``, e.g. the user's pets."""

    title: str
    read: Callable[[web.Application, int], Awaitable[Table]]


@dataclass(frozen=True)
class Section:
    """A page of the console at ``/admin/s/<slug>``: ``table(app, filters, offset, limit)``."""

    slug: str
    title: str
    table: Callable[[web.Application, Mapping[str, str], int, int], Awaitable[Table]]
    filters: tuple[Field, ...] = ()
    actions: tuple[Action, ...] = field(default=())
