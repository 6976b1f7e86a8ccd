"""Contract of the documents port, run on every adapter: the SQL table on SQLite and on
PostgreSQL, and MongoDB — a real server when MENGCHONG_TEST_MONGO_URL is set, else
mongomock-motor (the test id says which: ``mongodb-real`` / ``mongodb-mongomock``, and so does a
line of the terminal summary).

Each test asserts literal expected values, so passing on every adapter means they agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from mengchong.config import DocumentsSettings
from mengchong.storage.database import Database, ModelSet
from mengchong.storage.documents import (
    Collection,
    DocumentStore,
    DocumentValueError,
    DuplicateDocument,
    NonNumericField,
    Record,
    open_documents,
)
from mengchong.storage.documents_mongo import MongoDocumentStore
from mengchong.storage.documents_sql import SqlCollection, SqlDocumentStore
from support import MONGO_URL, require_service, unique_name

CORE = ModelSet("core", ["mengchong.storage.models"], "mengchong.migrations")
MONGO_VARIANT = "mongodb-real" if MONGO_URL else "mongodb-mongomock"
MONGO_MARKS = [pytest.mark.services] if MONGO_URL else []


class MongoSummary:
    """A plugin registered at run time: one terminal-summary line naming the MongoDB used."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        used = {"mongodb-real": "a real server", "mongodb-mongomock": "mongomock-motor"}[MONGO_VARIANT]
        terminalreporter.write_sep("-", f"documents contract: the MongoDB variant uses {used}")


@pytest.fixture(scope="session")
def mongo_summary(pytestconfig: pytest.Config) -> None:
    if not pytestconfig.pluginmanager.has_plugin("mengchong-documents-mongo"):
        pytestconfig.pluginmanager.register(MongoSummary(), "mengchong-documents-mongo")


@dataclass
class Backend:
    variant: str
    store: DocumentStore
    database: Database | None = None


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.services),
        pytest.param(MONGO_VARIANT, marks=MONGO_MARKS),
    ]
)
def target(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[str, str]:
    """(variant, URL). A plain function: an async fixture can't resolve postgres_url by name."""
    if request.param == "sql-sqlite":
        return request.param, f"sqlite://{tmp_path}/documents.sqlite3"
    if request.param == "sql-postgres":
        return request.param, request.getfixturevalue("postgres_url")
    request.getfixturevalue("mongo_summary")
    if MONGO_URL:
        require_service("MongoDB", MONGO_URL)
    return request.param, MONGO_URL


@pytest.fixture
async def backend(target: tuple[str, str]) -> AsyncIterator[Backend]:
    """An opened store; for SQL the database context stays active through the test body."""
    variant, url = target
    if variant.startswith("sql"):
        database = Database(url, [CORE])
        await database.migrate()
        await database.open()
        with database.activate():
            store = open_documents(DocumentsSettings(), database)
            await store.open()
            yield Backend(variant, store, database)
            await store.close()
        await database.close()
    else:
        name = unique_name("mengchong_test")
        if url:
            store = MongoDocumentStore(url, name)
        else:
            store = MongoDocumentStore(client=AsyncMongoMockClient(), database=name)
        await store.open()
        yield Backend(variant, store)
        await store.client.drop_database(name)
        await store.close()


@pytest.fixture
def store(backend: Backend) -> DocumentStore:
    return backend.store


@pytest.fixture
def pets(store: DocumentStore) -> Collection:
    return store.collection("pets")


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [doc["id"] for doc in docs]


async def test_store_is_named_and_answers_ping(backend: Backend) -> None:
    assert backend.store.name == ("sql" if backend.variant.startswith("sql") else "mongodb")
    await backend.store.ping()


async def test_insert_and_get_round_trip_nested_unicode_values(pets: Collection) -> None:
    body = {
        "name": "小白 🐶",
        "stats": {"hunger": 80, "mood": 95.5, "tags": ["可爱", "ü", "", None, True, False]},
        "deep": [[{"a": []}], {}, {"b": {"c": [1, 2.25, -3]}}],
        "big": 2**62,
        "negative": -(2**63),
        "ratio": 0.1,
        "alive": True,
        "note": None,
        "created_at": "2025-01-02T03:04:05.678+08:00",
    }
    stored = await pets.insert(body, doc_id="pet-1")
    assert stored == {"id": "pet-1", **body, "version": 1}
    body["stats"]["tags"].append("mutated after insert")
    fetched = await pets.get("pet-1")
    assert fetched == stored
    assert fetched["stats"]["tags"] == ["可爱", "ü", "", None, True, False]
    assert type(fetched["big"]) is int
    assert type(fetched["stats"]["mood"]) is float

    generated = await pets.insert({"name": "无名"})
    assert len(generated["id"]) == 32
    assert int(generated["id"], 16) >= 0
    assert await pets.get(generated["id"]) == {"id": generated["id"], "name": "无名", "version": 1}
    assert await pets.get("missing") is None


async def test_repeated_doc_id_raises_duplicate_and_keeps_the_first(pets: Collection) -> None:
    await pets.insert({"name": "first"}, doc_id="same")
    with pytest.raises(DuplicateDocument):
        await pets.insert({"name": "second"}, doc_id="same")
    assert await pets.get("same") == {"id": "same", "name": "first", "version": 1}
    assert await pets.count() == 1


async def test_concurrent_inserts_of_one_id_store_exactly_one(pets: Collection) -> None:
    results = await asyncio.gather(
        *(pets.insert({"n": n}, doc_id="race") for n in range(10)), return_exceptions=True
    )
    winners = [result for result in results if isinstance(result, dict)]
    assert len(winners) == 1
    assert all(isinstance(result, DuplicateDocument) for result in results if result not in winners)
    assert await pets.get("race") == winners[0]


async def seed_filters(pets: Collection) -> None:
    docs = {
        "a": {"owner": "u1", "level": 1, "alive": True, "note": None, "tags": ["x"]},
        "b": {"owner": "u1", "level": 1.0, "alive": False, "tags": "x"},
        "c": {"owner": "u2", "level": True, "alive": 1},
        "d": {"owner": "u2", "level": "1", "alive": "true", "note": "n"},
        "e": {"owner": "u3", "level": [1], "alive": None, "note": 0},
    }
    for doc_id, doc in docs.items():
        await pets.insert(doc, doc_id=doc_id)


async def test_find_filters_by_equality_with_strict_types(pets: Collection) -> None:
    await seed_filters(pets)
    assert ids(await pets.find()) == ["a", "b", "c", "d", "e"]
    assert ids(await pets.find({"owner": "u1"})) == ["a", "b"]
    assert ids(await pets.find({"level": 1})) == ["a", "b"]  # 1 == 1.0, not true, "1" or [1]
    assert ids(await pets.find({"level": 1.0})) == ["a", "b"]
    assert ids(await pets.find({"level": True})) == ["c"]
    assert ids(await pets.find({"level": "1"})) == ["d"]
    assert ids(await pets.find({"alive": True})) == ["a"]
    assert ids(await pets.find({"alive": False})) == ["b"]
    assert ids(await pets.find({"alive": 1})) == ["c"]
    assert ids(await pets.find({"note": None})) == ["a", "b", "c"]  # null and missing
    assert ids(await pets.find({"note": 0})) == ["e"]
    assert ids(await pets.find({"tags": "x"})) == ["b"]  # never inside arrays
    assert ids(await pets.find({"owner": "u1", "alive": False})) == ["b"]
    assert ids(await pets.find({"owner": "nobody"})) == []
    assert ids(await pets.find({"id": "c"})) == ["c"]
    assert ids(await pets.find({"version": 1, "owner": "u2"})) == ["c", "d"]


async def test_count_uses_the_same_filters(pets: Collection) -> None:
    assert await pets.count() == 0
    await seed_filters(pets)
    counts = [
        await pets.count(where) for where in ({}, {"owner": "u1"}, {"level": 1}, {"note": None}, {"id": "x"})
    ]
    assert counts == [5, 2, 2, 3, 0]


async def seed_levels(pets: Collection) -> None:
    # Inserted out of order so that insertion order can't pass for a sort.
    levels = {"p3": 2, "p0": 1, "p5": 3, "p1": 2, "p4": 1, "p2": 2, "p6": None, "p7": "missing"}
    for doc_id, level in levels.items():
        doc = {"kind": "cat"} if level == "missing" else {"kind": "cat", "level": level}
        await pets.insert(doc, doc_id=doc_id)


async def test_sort_ascending_and_descending_with_ties_by_id(pets: Collection) -> None:
    await seed_levels(pets)
    assert ids(await pets.find()) == ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"]
    ascending = ids(await pets.find(sort=[("level", 1)]))
    assert ascending == ["p6", "p7", "p0", "p4", "p1", "p2", "p3", "p5"]  # null and missing first
    descending = ids(await pets.find(sort=[("level", -1)]))
    assert descending == ["p5", "p3", "p2", "p1", "p4", "p0", "p7", "p6"]
    assert ids(await pets.find(sort=[("id", -1)])) == ["p7", "p6", "p5", "p4", "p3", "p2", "p1", "p0"]
    await pets.update("p2", {"kind": "dog"})
    await pets.update("p4", {"kind": "dog"})
    two_keys = ids(await pets.find({"kind": "cat"}, sort=[("version", 1), ("level", -1)]))
    assert two_keys == ["p5", "p3", "p1", "p0", "p7", "p6"]


async def test_skip_and_limit_page_without_overlap(pets: Collection) -> None:
    await seed_levels(pets)
    everything = ids(await pets.find(sort=[("level", -1)]))
    pages = [ids(await pets.find(sort=[("level", -1)], skip=skip, limit=3)) for skip in (0, 3, 6)]
    assert pages == [everything[0:3], everything[3:6], everything[6:8]]
    assert ids(await pets.find(sort=[("level", -1)], skip=2)) == everything[2:]
    assert ids(await pets.find(skip=100)) == []
    assert await pets.find(limit=0) == []
    assert ids(await pets.find({"level": 2}, sort=[("level", 1)], skip=1, limit=1)) == ["p2"]


async def test_find_with_fields_returns_only_those_the_document_has(pets: Collection) -> None:
    body = {"name": "Mimi", "photo": None, "flags": {"shy": True, "tags": [1, False, "x"]}, "level": 2.5}
    await pets.insert({**body, "big": "x" * 500}, doc_id="a")
    await pets.insert({"name": "Bo"}, doc_id="b")
    found = await pets.find(sort=[("id", 1)], fields=["name", "photo", "flags", "level", "absent", "name"])
    assert found == [
        {"id": "a", **body, "version": 1},  # null kept, types kept (true is not 1), "big" left out
        {"id": "b", "name": "Bo", "version": 1},  # missing fields stay missing
    ]
    assert await pets.find({"name": "Bo"}, fields=[]) == [{"id": "b", "version": 1}]


async def test_find_page_gives_the_page_and_the_total(pets: Collection) -> None:
    await seed_levels(pets)
    page, total = await pets.find_page(sort=[("level", -1)], skip=3, limit=3, fields=["level"])
    assert (page, total) == (
        [
            {"id": "p1", "level": 2, "version": 1},
            {"id": "p4", "level": 1, "version": 1},
            {"id": "p0", "level": 1, "version": 1},
        ],
        8,
    )
    assert ids((await pets.find_page(sort=[("level", -1)], skip=6, limit=3))[0]) == ["p7", "p6"]
    assert await pets.find_page({"level": 2}, skip=0, limit=2) == (await pets.find({"level": 2}, limit=2), 3)
    assert await pets.find_page({"level": 2}, skip=5, limit=2) == ([], 3)  # past the end: still the total
    assert await pets.find_page({"level": 2}, limit=0) == ([], 3)
    assert await pets.find_page({"kind": "dog"}, limit=5) == ([], 0)
    assert await pets.find_page() == (await pets.find(), 8)


async def test_update_sets_and_increments_and_bumps_the_version(pets: Collection) -> None:
    await pets.insert(
        {"name": "豆豆", "hunger": 50, "mood": 1.5, "stats": {"a": 1}, "keep": "me"}, doc_id="p"
    )
    updated = await pets.update(
        "p",
        {"name": "豆豆二号", "stats": {"b": [1, {"c": None}]}, "note": None},
        increment={"hunger": -20, "mood": 0.25, "feedings": 1},
    )
    # "feedings" was missing (counts as 0); "stats" is replaced, not merged.
    expected = {"id": "p", "name": "豆豆二号", "hunger": 30, "mood": 1.75, "feedings": 1, "keep": "me"}
    expected |= {"stats": {"b": [1, {"c": None}]}, "note": None, "version": 2}
    assert updated == expected
    assert await pets.get("p") == expected
    assert type(updated["hunger"]) is int
    touched = await pets.update("p", {})
    assert touched == {**expected, "version": 3}
    again = await pets.update("p", increment={"hunger": 2.5})
    assert (again["hunger"], again["version"]) == (32.5, 4)


async def test_concurrent_increments_are_all_applied(pets: Collection) -> None:
    await pets.insert({"exp": 0}, doc_id="p")
    results = await asyncio.gather(*(pets.update("p", increment={"exp": 5}) for _ in range(20)))
    assert sorted(result["version"] for result in results) == list(range(2, 22))
    assert await pets.get("p") == {"id": "p", "exp": 100, "version": 21}


async def test_compare_and_set_lets_exactly_one_of_20_concurrent_updates_win(pets: Collection) -> None:
    await pets.insert({"owner": None}, doc_id="p")
    results = await asyncio.gather(
        *(
            pets.update("p", {"owner": f"u{n}"}, expected_version=1, increment={"claims": 1})
            for n in range(20)
        )
    )
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert winners[0]["version"] == 2
    assert winners[0]["claims"] == 1
    assert await pets.get("p") == winners[0]
    assert await pets.update("p", {"owner": "late"}, expected_version=1) is None
    assert await pets.get("p") == winners[0]
    third = await pets.update("p", {"owner": "next"}, expected_version=2)
    assert third is not None
    assert (third["owner"], third["version"]) == ("next", 3)


async def test_an_update_with_a_record_writes_both_or_neither(store: DocumentStore) -> None:
    pets, logs = store.collection("pets"), store.collection("pet_interactions")
    await pets.insert({"mood": 1}, doc_id="p")
    await logs.insert({"note": "taken"}, doc_id="taken")
    entry = {"pet_id": "p", "deltas": {"mood": 2}, "at": "2026-11-29T00:00:00+00:00"}
    updated = await pets.update(
        "p", {"mood": 3}, expected_version=1, record=Record("pet_interactions", entry, "e1")
    )
    assert updated == {"id": "p", "mood": 3, "version": 2}
    assert await logs.get("e1") == {"id": "e1", **entry, "version": 1}
    # The compare-and-set misses: no record either.
    late = Record("pet_interactions", {"pet_id": "p"}, "e2")
    assert await pets.update("p", {"mood": 9}, expected_version=1, record=late) is None
    assert await pets.update("missing", {"mood": 9}, record=late) is None
    assert await logs.get("e2") is None
    # A record id that is taken: neither the update nor the record.
    with pytest.raises(DuplicateDocument):
        await pets.update(
            "p", {"mood": 5}, expected_version=2, record=Record("pet_interactions", entry, "taken")
        )
    assert await pets.get("p") == updated
    assert await logs.get("taken") == {"id": "taken", "note": "taken", "version": 1}
    assert await logs.count() == 2
    # A bad record is refused before anything is written.
    with pytest.raises(DocumentValueError):
        await pets.update("p", {"mood": 6}, record=Record("pet_interactions", {"id": "x"}, "e3"))
    assert await pets.get("p") == updated
    # Without an id the record gets a fresh one.
    await pets.update("p", {"mood": 7}, record=Record("pet_interactions", {"pet_id": "p"}))
    assert await logs.count({"pet_id": "p"}) == 2


async def test_concurrent_compare_and_set_updates_leave_one_record(store: DocumentStore) -> None:
    pets, logs = store.collection("pets"), store.collection("pet_interactions")
    await pets.insert({"mood": 0}, doc_id="p")
    results = await asyncio.gather(
        *(
            pets.update("p", {"mood": n}, expected_version=1, record=Record("pet_interactions", {"n": n}))
            for n in range(10)
        )
    )
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    assert [entry["n"] for entry in await logs.find()] == [winners[0]["mood"]]


async def test_incrementing_a_non_number_raises_and_changes_nothing(pets: Collection) -> None:
    for value in ("3", True, None, [1], {"n": 1}):
        await pets.insert({"field": value, "n": 1}, doc_id="p")
        with pytest.raises(NonNumericField, match="field"):
            await pets.update("p", {"other": 1}, increment={"field": 1, "n": 1})
        assert await pets.get("p") == {"id": "p", "field": value, "n": 1, "version": 1}
        # A version mismatch wins: the update would not have happened anyway.
        assert await pets.update("p", increment={"field": 1}, expected_version=7) is None
        assert await pets.delete("p")


async def test_delete_removes_once_and_updates_of_missing_documents_return_none(pets: Collection) -> None:
    await pets.insert({"a": 1}, doc_id="p")
    await pets.insert({"a": 2}, doc_id="q")
    assert await pets.delete("p") is True
    assert await pets.delete("p") is False
    assert await pets.get("p") is None
    # Updating a missing document does nothing, creates nothing.
    assert await pets.update("p", {"a": 3}) is None
    assert await pets.update("p", {"a": 3}, expected_version=1) is None
    assert await pets.update("p", increment={"a": 1}) is None
    assert ids(await pets.find()) == ["q"]
    again = await pets.insert({"a": 4}, doc_id="p")  # the id is free again
    assert again == {"id": "p", "a": 4, "version": 1}


async def test_get_many_reads_the_existing_ones_of_many_ids_at_once(
    store: DocumentStore, pets: Collection
) -> None:
    await pets.insert({"name": "Ada", "level": 3, "tags": ["a"]}, doc_id="a")
    await pets.insert({"name": "Bo", "level": 5}, doc_id="b")
    await store.collection("other").insert({"name": "not a pet"}, doc_id="c")
    assert await pets.get_many(["b", "a", "missing", "a", "c"]) == {
        "a": {"id": "a", "name": "Ada", "level": 3, "tags": ["a"], "version": 1},
        "b": {"id": "b", "name": "Bo", "level": 5, "version": 1},
    }
    assert await pets.get_many(["a", "b"], fields=["level"]) == {
        "a": {"id": "a", "level": 3, "version": 1},
        "b": {"id": "b", "level": 5, "version": 1},
    }
    assert await pets.get_many([]) == {}
    with pytest.raises(TypeError):
        await pets.get_many("ab")
    with pytest.raises(ValueError, match="at most 1000 ids"):
        await pets.get_many([f"id{number}" for number in range(1001)])


async def test_collections_are_isolated(store: DocumentStore) -> None:
    pets, logs = store.collection("pets"), store.collection("pet_interactions")
    await pets.insert({"owner": "u1", "n": 1}, doc_id="same")
    await logs.insert({"owner": "u1", "n": 100}, doc_id="same")
    await logs.insert({"owner": "u1", "n": 200}, doc_id="other")
    assert await pets.count({"owner": "u1"}) == 1
    assert ids(await logs.find({"owner": "u1"})) == ["other", "same"]
    assert (await pets.update("same", increment={"n": 1}))["n"] == 2
    assert (await logs.get("same"))["n"] == 100
    assert await pets.update("other", {"n": 0}) is None
    assert await pets.delete("same") is True
    assert await logs.get("same") == {"id": "same", "owner": "u1", "n": 100, "version": 1}
    assert store.collection("pets").name == "pets"


async def test_ensure_index_is_idempotent(pets: Collection) -> None:
    for _ in range(2):
        await pets.ensure_index("owner", "created_at")
        await pets.ensure_index("level")
        await pets.ensure_index("version")
    await pets.insert({"owner": "u1", "created_at": "2025-01-01T00:00:00Z"}, doc_id="a")
    await pets.insert({"owner": "u1", "created_at": "2025-01-02T00:00:00Z"}, doc_id="b")
    assert ids(await pets.find({"owner": "u1"}, sort=[("created_at", -1)])) == ["b", "a"]


BAD_KEYS = ["id", "version", "_id", "$set", "a.b", "名字", "1st", "has space"]
BAD_VALUES = [datetime(2025, 1, 1, tzinfo=UTC), {1, 2}, (1, 2), float("nan"), float("inf"), 2**64]
BAD_VALUES += ["nul\x00", "\ud800", {"$where": "x"}, [{"a.b": 1}], {1: "int key"}, {"": 0}, b"bytes"]
INVALID_DOCS = [{key: 1} for key in BAD_KEYS] + [{"ok": value} for value in BAD_VALUES]


async def test_reserved_and_invalid_fields_are_rejected(pets: Collection) -> None:
    await pets.insert({"ok": 1}, doc_id="p")
    accepted = []
    for doc in INVALID_DOCS:
        for write in (lambda doc=doc: pets.insert(doc), lambda doc=doc: pets.update("p", doc)):
            try:
                await write()
            except DocumentValueError:
                continue
            accepted.append(doc)
    assert accepted == []
    assert issubclass(DocumentValueError, ValueError)
    assert await pets.get("p") == {"id": "p", "ok": 1, "version": 1}
    assert await pets.count() == 1


async def test_invalid_arguments_are_rejected(store: DocumentStore, pets: Collection) -> None:
    await pets.insert({"n": 1}, doc_id="p")
    bad_calls = [
        lambda: pets.update("p", increment={"version": 1}),
        lambda: pets.update("p", increment={"id": 1}),
        lambda: pets.update("p", increment={"n": True}),
        lambda: pets.update("p", increment={"n": "1"}),
        lambda: pets.update("p", {"n": 2}, increment={"n": 1}),
        lambda: pets.update("p", {"n": 2}, expected_version=0),
        lambda: pets.insert({"n": 1}, doc_id=""),
        lambda: pets.insert({"n": 1}, doc_id="x" * 65),
        lambda: pets.find({"n": [1]}),
        lambda: pets.find({"n; DROP TABLE documents": 1}),
        lambda: pets.find({"id": 1}),
        lambda: pets.find(sort=[("n", 0)]),
        lambda: pets.find(sort=[("n", True)]),
        lambda: pets.find(sort=[("n", 1), ("n", -1)]),
        lambda: pets.find(skip=-1),
        lambda: pets.find(limit=-1),
        lambda: pets.find(fields="name"),
        lambda: pets.find(fields=["id"]),
        lambda: pets.find(fields=["version"]),
        lambda: pets.find(fields=["n'"]),
        lambda: pets.find_page(fields=["n.x"]),
        lambda: pets.find_page(skip=-1),
        lambda: pets.count({"n": {"$gt": 0}}),
        lambda: pets.ensure_index(),
        lambda: pets.ensure_index("n'"),
    ]
    for call in bad_calls:
        with pytest.raises(DocumentValueError):
            await call()
    for name in ("", "Pets", "pets; --", "x" * 49, "1pets"):
        with pytest.raises(DocumentValueError):
            store.collection(name)
    assert await pets.get("p") == {"id": "p", "n": 1, "version": 1}


# --- Adapter specifics: the SQL indexes are used; the SQL adapter joins transactions --------


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
