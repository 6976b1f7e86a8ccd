"""The documents port's writes on every adapter: updates, increments, compare-and-set (also 20
at once), an update written with its record and its outbox rows, deletes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from documents_support import Backend, ids
from mengchong.storage.database import fetch_rows
from mengchong.storage.documents import (
    Collection,
    DocumentStore,
    DocumentValueError,
    DuplicateDocument,
    NonNumericField,
    Record,
)
from mengchong.storage.outbox import OutboxRow


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


def outbox_row(event_id: str) -> OutboxRow:
    payload = {"name": "test.changed", "payload": {"n": 1}, "id": event_id, "occurred_at": "2026-12-07"}
    return (event_id, "test.changed", orjson.dumps(payload).decode(), datetime.now(UTC))


async def outboxed(backend: Backend) -> list[str]:
    assert backend.database is not None
    rows = await fetch_rows(backend.database.connection, "SELECT event_id FROM outbox_events ORDER BY id", [])
    return [row["event_id"] for row in rows]


async def test_an_update_with_outbox_rows_writes_them_if_and_only_if_it_applies(backend: Backend) -> None:
    pets, logs = backend.store.collection("pets"), backend.store.collection("pet_interactions")
    await pets.insert({"mood": 1}, doc_id="p")
    if not pets.writes_outbox:  # MongoDB: the outbox is not there; the bus writes the rows after
        with pytest.raises(DocumentValueError):
            await pets.update("p", {"mood": 2}, outbox=[outbox_row("e0")])
        assert await pets.get("p") == {"id": "p", "mood": 1, "version": 1}
        return
    updated = await pets.update("p", {"mood": 2}, outbox=[outbox_row("e1"), outbox_row("e2")])
    assert updated == {"id": "p", "mood": 2, "version": 2}
    assert await outboxed(backend) == ["e1", "e2"]
    # With a record too; then a compare-and-set that misses and a missing document: no rows.
    record = Record("pet_interactions", {"pet_id": "p"}, "r1")
    assert await pets.update("p", {"mood": 3}, expected_version=2, record=record, outbox=[outbox_row("e3")])
    assert await pets.update("p", {"mood": 9}, expected_version=2, outbox=[outbox_row("e4")]) is None
    assert await pets.update("missing", {"mood": 9}, outbox=[outbox_row("e5")]) is None
    assert await outboxed(backend) == ["e1", "e2", "e3"]
    # A record id that is taken fails the whole write: no update, no rows.
    with pytest.raises(DuplicateDocument):
        await pets.update(
            "p", {"mood": 5}, record=Record("pet_interactions", {}, "r1"), outbox=[outbox_row("e6")]
        )
    assert (await pets.get("p"))["mood"] == 3
    assert await logs.count() == 1
    assert await outboxed(backend) == ["e1", "e2", "e3"]
