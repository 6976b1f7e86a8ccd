"""Contract of the documents port, run on every adapter: the SQL table on SQLite and on
PostgreSQL, and MongoDB — a real server when MENGCHONG_TEST_MONGO_URL is set, else
mongomock-motor (the test id says which: ``mongodb-real`` / ``mongodb-mongomock``, and so does a
line of the terminal summary).

Each test asserts literal expected values, so passing on every adapter means they agree.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from documents_support import Backend, ids
from mengchong.storage.documents import (
    Collection,
    DocumentStore,
    DocumentValueError,
    DuplicateDocument,
)


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
