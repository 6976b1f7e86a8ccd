"""The documents port beyond the shared contract: indexes (idempotent, used by the SQL planner),
the SQL adapter inside the caller's transaction, and which adapter a URL opens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from documents_support import CORE, Backend, ids
from mengchong.config import DocumentsSettings
from mengchong.storage.database import Database
from mengchong.storage.documents import (
    Collection,
    open_documents,
)
from mengchong.storage.documents_mongo import MongoDocumentStore
from mengchong.storage.documents_sql import SqlCollection, SqlDocumentStore


async def test_ensure_index_is_idempotent(pets: Collection) -> None:
    for _ in range(2):
        await pets.ensure_index("owner", "created_at")
        await pets.ensure_index("level")
        await pets.ensure_index("version")
    await pets.insert({"owner": "u1", "created_at": "2025-01-01T00:00:00Z"}, doc_id="a")
    await pets.insert({"owner": "u1", "created_at": "2025-01-02T00:00:00Z"}, doc_id="b")
    assert ids(await pets.find({"owner": "u1"}, sort=[("created_at", -1)])) == ["b", "a"]


async def test_ensure_index_called_at_once_by_many_processes_creates_it_once(pets: Collection) -> None:
    # Servers starting together each ensure their indexes; on PostgreSQL, two sessions creating
    # the same index at once both pass IF NOT EXISTS and the second failed on pg_class.
    for attempt in range(5):
        fields = (f"f{attempt}", "created_at")
        await asyncio.gather(*(pets.ensure_index(*fields) for _ in range(6)))
        await pets.ensure_index(*fields)


async def test_indexes_serve_filter_and_sort(backend: Backend) -> None:
    pets = backend.store.collection("pets")
    await pets.ensure_index("owner", "created_at")
    for n in range(30):
        await pets.insert({"owner": f"u{n % 3}", "created_at": f"2025-01-{n + 1:02d}"}, doc_id=f"p{n:02d}")
    if backend.database is None:
        info = await backend.store.database["pets"].index_information()
        assert [("owner", 1), ("created_at", 1), ("_id", 1)] in [index["key"] for index in info.values()]
        return
    assert isinstance(pets, SqlCollection)
    # find_page's statement: the page and its COUNT subquery both read the index
    sql, params = pets.select_statement(
        {"owner": "u1"}, sort=[("created_at", -1)], limit=5, fields=["owner"], total=True
    )
    index = pets.index_name(["owner", "created_at"])
    async with backend.database.transaction() as connection:
        if backend.database.dialect == "postgres":
            await connection.execute_query("SET LOCAL enable_seqscan = off")
            rows = await connection.execute_query_dict(f"EXPLAIN {sql}", params)
            plan = "\n".join(row["QUERY PLAN"] for row in rows)
            assert plan.count(index) == 2, plan
            assert "Sort" not in plan
        else:
            rows = await connection.execute_query_dict(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = "\n".join(row["detail"] for row in rows)
            assert plan.count(f"INDEX {index}") == 2, plan
            assert "TEMP B-TREE" not in plan
    assert ids(await pets.find({"owner": "u1"}, sort=[("created_at", -1)], limit=2)) == ["p28", "p25"]
    page, total = await pets.find_page({"owner": "u1"}, sort=[("created_at", -1)], limit=2, fields=[])
    assert (ids(page), total) == (["p28", "p25"], 10)


@pytest.mark.parametrize(
    "target", ["sql-sqlite", pytest.param("sql-postgres", marks=pytest.mark.services)], indirect=True
)
async def test_sql_documents_change_inside_the_callers_transaction(backend: Backend) -> None:
    """Only the SQL adapter: MongoDB writes are not part of the relational transaction."""
    assert backend.database is not None
    pets = backend.store.collection("pets")
    await pets.insert({"n": 1}, doc_id="kept")

    async def write_then_fail() -> None:
        async with backend.database.transaction():
            await pets.insert({"n": 1}, doc_id="rolled-back")
            await pets.update("kept", increment={"n": 1})
            assert await pets.get("rolled-back") is not None
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        await write_then_fail()
    assert await pets.get("rolled-back") is None
    assert await pets.get("kept") == {"id": "kept", "n": 1, "version": 1}


def test_open_documents_picks_the_adapter_from_the_url(tmp_path: Any) -> None:
    database = Database(f"sqlite://{tmp_path}/x.sqlite3", [CORE])
    assert isinstance(open_documents(DocumentsSettings(), database), SqlDocumentStore)
    mongo = open_documents(DocumentsSettings(url="mongodb://127.0.0.1:1", database="pets_db"), database)
    assert isinstance(mongo, MongoDocumentStore)
    assert (mongo.name, mongo.database_name) == ("mongodb", "pets_db")
