"""Pagination (seed §4.2): ``page`` from 1, ``limit`` default 10, at most 100."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import marshmallow as m

from mengchong.http.validation import pure_load

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@pure_load
class PageQuery(m.Schema):
    """Query parameters of every list route; routes extend it with their own filters."""

    class Meta:
        unknown = m.EXCLUDE

    page = m.fields.Integer(load_default=1, validate=m.validate.Range(min=1, max=1_000_000))
    limit = m.fields.Integer(load_default=DEFAULT_LIMIT, validate=m.validate.Range(min=1, max=MAX_LIMIT))


@dataclass(frozen=True)
class Page:
    page: int
    limit: int

    @classmethod
    def from_query(cls, query: dict[str, Any]) -> Page:
        return cls(page=query.get("page", 1), limit=query.get("limit", DEFAULT_LIMIT))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def envelope(self, items: Sequence[Any], total: int) -> dict[str, Any]:
        """The seed's list body: items, total, page, limit, totalPages."""
        return {
            "items": list(items),
            "total": total,
            "page": self.page,
            "limit": self.limit,
            "totalPages": math.ceil(total / self.limit) if total else 0,
        }
