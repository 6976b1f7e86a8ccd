"""The event catalog and subscriber declarations: pure, no storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from mengchong.config import ConfigError
from mengchong.events import (
    POINTS_CHANGED,
    Event,
    EventPayload,
    PetInteracted,
    PointsChanged,
    Subscriber,
    event_names,
    payload_type,
)
from mengchong.events.bus import EventBus


async def nothing(app, event) -> None:
    return None


def test_the_kernel_events_are_in_the_catalog():
    assert {"user.created", "points.changed", "pet.adopted", "pet.interacted", "pet.leveled_up"} <= set(
        event_names()
    )
    assert payload_type(POINTS_CHANGED) is PointsChanged


def test_a_payload_travels_as_json_and_comes_back_typed():
    points = PointsChanged(user_id=3, delta=-5, balance=10, reason="mall.order", ref="o-1")
    event = Event.of(points)
    assert event.name == "points.changed"
    assert event.payload == {"user_id": 3, "delta": -5, "balance": 10, "reason": "mall.order", "ref": "o-1"}
    again = Event.from_dict(event.as_dict())
    assert again == event
    assert again.data(PointsChanged) == points
    with pytest.raises(TypeError, match=r"points\.changed"):
        again.data(PetInteracted)


def test_unknown_payload_keys_are_ignored_for_older_readers():
    event = Event(
        "points.changed", {"user_id": 1, "delta": 1, "balance": 1, "reason": "r", "ref": None, "new": 1}
    )
    assert event.data(PointsChanged).balance == 1


def test_an_event_name_is_defined_once():
    with pytest.raises(TypeError, match="already defined"):

        @dataclass(frozen=True)
        class Imposter(EventPayload):
            NAME: ClassVar[str] = "points.changed"

    with pytest.raises(TypeError, match="dotted"):

        @dataclass(frozen=True)
        class Nameless(EventPayload):
            NAME: ClassVar[str] = "nodot"


@pytest.mark.parametrize("name", ["", "Upper", "with space", "a/b", "x" * 64])
def test_a_subscriber_name_is_a_safe_queue_name(name):
    with pytest.raises(ConfigError, match="subscriber"):
        Subscriber(name, (PointsChanged,), nothing)


def test_a_subscriber_subscribes_to_something():
    with pytest.raises(ConfigError, match="no event"):
        Subscriber("leaderboard.points", (), nothing)
    assert Subscriber("leaderboard.points", (PointsChanged,), nothing).queue == "events.leaderboard.points"


def test_two_plugins_cannot_share_a_subscriber_name():
    class FakeDatabase:
        def on_commit(self, listener) -> None:
            pass

    bus = EventBus(None, FakeDatabase(), None, None, None)  # type: ignore[arg-type]
    bus.subscribe("leaderboard", [Subscriber("scores", (PointsChanged,), nothing)])
    with pytest.raises(ConfigError, match="'scores' of notifications is already leaderboard's"):
        bus.subscribe("notifications", [Subscriber("scores", (PointsChanged,), nothing)])
    assert [s.name for s in bus.subscribers_of("points.changed")] == ["scores"]
    assert bus.subscribers_of("pet.adopted") == []
