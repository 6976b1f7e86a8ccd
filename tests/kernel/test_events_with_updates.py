"""``EventBus.update_with_events`` on both profiles: a document's update and the events reporting
it are written together or not at all (one statement on the SQL documents store; right after the
update on a store that can't, like MongoDB's); only events some plugin subscribes to are
written; the relay delivers them."""

from __future__ import annotations

from dataclasses import dataclass, field

from mongomock_motor import AsyncMongoMockClient

from mengchong import hookimpl
from mengchong.events import Event, PetInteracted, Subscriber, UserCreated
from mengchong.keys import database_key, documents_key, events_key
from mengchong.storage.documents_mongo import MongoDocumentStore
from mengchong.storage.models import OutboxEvent
from support import eventually, settings_from


@dataclass
class Seen:
    """A throwaway plugin subscribing to ``pet.interacted``."""

    calls: list[Event] = field(default_factory=list)

    @hookimpl
    def mengchong_subscribers(self, app):
        return [Subscriber("test.seen_updates", (PetInteracted,), self.handle)]

    async def handle(self, app, event: Event) -> None:
        self.calls.append(event)


def interacted(level: int) -> PetInteracted:
    return PetInteracted(
        user_id=1, pet_id="t", interaction_type="petting", level=level, experience=0, experience_gained=1
    )


async def outboxed() -> list[tuple[str, int]]:
    rows = await OutboxEvent.all().order_by("id")
    return [(row.name, row.payload["payload"]["level"]) for row in rows]


async def test_the_events_go_with_the_update_or_not_at_all(profile, make_client):
    seen = Seen()
    client = await make_client(settings_from(profile), [("seen", seen)])
    app = client.server.app
    bus, things = app[events_key], app[documents_key].collection("things")
    with app[database_key].activate():
        await things.insert({"n": 0}, doc_id="t")
        # UserCreated has no subscriber here: it is not written.
        updated = await bus.update_with_events(
            things, "t", {"n": 1}, [interacted(1), UserCreated(user_id=1, role="user")], expected_version=1
        )
        assert updated is not None
        assert updated["n"] == 1
        assert await outboxed() == [("pet.interacted", 1)]
        # A compare-and-set that misses and a missing document: no event.
        assert (
            await bus.update_with_events(things, "t", {"n": 2}, [interacted(2)], expected_version=1) is None
        )
        assert await bus.update_with_events(things, "gone", {"n": 2}, [interacted(3)]) is None
        assert await outboxed() == [("pet.interacted", 1)]
    await eventually(lambda: len(seen.calls) == 1)
    assert seen.calls[0].data(PetInteracted).level == 1


async def test_a_store_without_the_outbox_gets_the_events_written_after_the_update(profile, make_client):
    seen = Seen()
    client = await make_client(settings_from(profile), [("seen", seen)])
    app = client.server.app
    mongo = MongoDocumentStore(client=AsyncMongoMockClient(), database="events_with_updates")
    await mongo.open()
    things = mongo.collection("things")
    assert not things.writes_outbox
    with app[database_key].activate():
        await things.insert({"n": 0}, doc_id="t")
        assert await app[events_key].update_with_events(
            things, "t", {"n": 1}, [interacted(4)], expected_version=1
        )
        assert (
            await app[events_key].update_with_events(
                things, "t", {"n": 2}, [interacted(5)], expected_version=1
            )
            is None
        )
        assert await outboxed() == [("pet.interacted", 4)]
    await eventually(lambda: len(seen.calls) == 1)
    await mongo.close()
