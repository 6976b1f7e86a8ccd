"""The base class of every table: tortoise's ``Model`` without its source reading.

On each model class tortoise reads the class's source file (``inspect.getsource``) to collect
``#:`` comments as field descriptions; for our 17 tables that was a tenth of a second of every
start. We describe fields with ``description=`` where they need one, so the models in the kernel
and in plugins derive from this ``Model`` instead, which turns the reading off.
"""

from __future__ import annotations

from typing import Any

from tortoise.models import Model as TortoiseModel
from tortoise.models import ModelMeta


class _NoSourceComments(ModelMeta):
    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> ModelMeta:
        attrs.setdefault("_no_comments", True)  # tortoise looks at the class's own attributes only
        return super().__new__(mcs, name, bases, attrs)


class Model(TortoiseModel, metaclass=_NoSourceComments):
    """Derive tables from this, as from ``tortoise.models.Model``."""

    class Meta:
        abstract = True
