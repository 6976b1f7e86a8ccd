"""What the documents-port tests share (their fixtures are in conftest.py): the adapters they run
on, the backend a test gets, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from mengchong.storage.database import Database, ModelSet
from mengchong.storage.documents import (
    DocumentStore,
)
from support import MONGO_URL

CORE = ModelSet("core", ["mengchong.storage.models"], "mengchong.migrations")
MONGO_VARIANT = "mongodb-real" if MONGO_URL else "mongodb-mongomock"
MONGO_MARKS = [pytest.mark.services] if MONGO_URL else []


@dataclass
class Backend:
    variant: str
    store: DocumentStore
    database: Database | None = None


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [doc["id"] for doc in docs]
