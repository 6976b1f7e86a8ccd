"""Kept documents (mengchong/storage/kept_documents.py) on every documents adapter and both cache
adapters. Two KeptCollections over one store and one cache are two processes: a write through
either is seen by the other's next read; a copy is served while nothing changed; no reader, however
it races a writer, can make an older copy current again. (The pets routes on top:
tests/plugins/pets/test_kept_pets.py.)"""

from __future__ import annotations

import pytest

from documents_support import CORE
from mengchong.config import DocumentsSettings
from mengchong.storage.cache import Cache
from mengchong.storage.database import Database
from mengchong.storage.documents import Collection, open_documents
from mengchong.storage.kept_documents import GONE, KeptCollection


def kept(pets: Collection, cache: Cache, size: int = 100) -> KeptCollection:
    return KeptCollection(pets, cache, size, max_age_seconds=300)


async def stored_version(cache: Cache, collection: KeptCollection, doc_id: str) -> str | None:
    raw = await cache.client.get(collection.version_key(doc_id))
    return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)


async def test_a_read_keeps_a_copy_served_until_a_write_changes_the_document(pets, cache):
    first, second = kept(pets, cache), kept(pets, cache)
    doc = await first.insert({"name": "mimi", "level": 1})
    assert await stored_version(cache, first, doc["id"]) == "1"

    assert (await second.get(doc["id"]))["name"] == "mimi"
    await pets.update(doc["id"], {"name": "unseen"})  # behind both their backs
    assert (await second.get(doc["id"]))["name"] == "mimi"  # the copy: no database read

    written = await first.update(doc["id"], {"level": 2})
    assert written is not None
    assert await stored_version(cache, first, doc["id"]) == str(written["version"])
    seen = await second.get(doc["id"])
    assert (seen["name"], seen["level"], seen["version"]) == ("unseen", 2, written["version"])


async def test_a_version_read_in_the_callers_round_trip_is_trusted(pets, cache):
    collection = kept(pets, cache)
    doc = await collection.insert({"name": "mimi"})
    await pets.update(doc["id"], {"name": "unseen"})
    assert (await collection.get(doc["id"], "1"))["name"] == "mimi"
    # None stored (flushed cache, expired key): read, and stored again.
    assert (await collection.get(doc["id"], ""))["name"] == "unseen"
    assert await stored_version(cache, collection, doc["id"]) == "2"


async def test_a_reader_that_read_before_a_write_never_makes_its_copy_current(pets, cache):
    reader, writer = kept(pets, cache), kept(pets, cache)
    doc = await pets.insert({"name": "mimi"})  # no stored version yet
    stale = await pets.get(doc["id"])
    await writer.update(doc["id"], {"name": "new"})
    await reader._keep(stale)  # the reader's read, finishing after the write: keeps version 1
    assert await stored_version(cache, reader, doc["id"]) == "2"  # never lowered
    assert (await reader.get(doc["id"]))["name"] == "new"


async def test_a_compare_and_set_that_loses_drops_the_losers_copy(pets, cache):
    first, second = kept(pets, cache), kept(pets, cache)
    doc = await first.insert({"n": 0})
    assert (await second.get(doc["id"]))["n"] == 0
    assert await first.update(doc["id"], {"n": 1}, expected_version=1) is not None
    assert await second.update(doc["id"], {"n": 2}, expected_version=1) is None
    assert (await second.get(doc["id"], "1")) == await pets.get(doc["id"])  # read again, not kept


async def test_a_deleted_document_stays_gone_whatever_a_late_reader_keeps(pets, cache):
    reader, writer = kept(pets, cache), kept(pets, cache)
    doc = await writer.insert({"name": "mimi"})
    stale = await reader.get(doc["id"])
    assert await writer.delete(doc["id"])
    assert await stored_version(cache, writer, doc["id"]) == str(GONE)
    await reader._keep(stale)
    assert await reader.get(doc["id"]) is None


async def test_copies_are_fresh_objects_and_bounded(pets, cache):
    collection = kept(pets, cache, size=1)
    one, two = await collection.insert({"tags": ["a"]}), await collection.insert({"tags": ["b"]})
    first = await collection.get(one["id"])
    first["tags"].append("changed by a caller")
    assert (await collection.get(one["id"]))["tags"] == ["a"]
    await collection.get(two["id"])
    assert len(collection.copies) == 1


async def test_size_zero_reads_the_database_every_time(pets, cache):
    collection = kept(pets, cache, size=0)
    doc = await collection.insert({"name": "mimi"})
    await pets.update(doc["id"], {"name": "seen"})
    assert (await collection.get(doc["id"], "1"))["name"] == "seen"


async def test_an_unreachable_cache_fails_no_read_or_write_and_keeps_nothing(pets, cache, monkeypatch):
    collection = kept(pets, cache)

    async def unreachable(**kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(collection, "_raise", unreachable)
    doc = await collection.insert({"name": "mimi"})
    assert (await collection.update(doc["id"], {"name": "new"}))["name"] == "new"
    assert (await collection.get(doc["id"], ""))["name"] == "new"
    assert len(collection.copies) == 0


async def test_writing_inside_a_relational_transaction_is_refused(tmp_path, cache):
    database = Database(f"sqlite://{tmp_path}/kept.sqlite3", [CORE])
    await database.migrate()
    await database.open()
    try:
        with database.activate():
            store = open_documents(DocumentsSettings(), database)
            await store.open()
            collection = kept(store.collection("pets"), cache)
            doc = await collection.insert({"name": "mimi"})
            async with database.transaction():
                with pytest.raises(RuntimeError, match="outside transactions"):
                    await collection.update(doc["id"], {"name": "rolled back"})
            assert (await collection.get(doc["id"]))["name"] == "mimi"
            await store.close()
    finally:
        await database.close()
