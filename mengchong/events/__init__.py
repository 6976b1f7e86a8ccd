"""Domain events: the catalog of names and payloads, the bus that delivers them to each
subscriber on its own queue, and the helper that runs a handler once per event.

Publishing, inside the transaction of the change (:func:`record_event`), or after a change made
outside one (``app[events_key].publish(...)``)::

    await record_event(connection, PointsChanged(user_id=7, delta=5, balance=25, reason="checkin", ref=day))

Subscribing, from a plugin::

    @once_per_event("leaderboard.points")
    async def on_points(app, event, connection):
        points = event.data(PointsChanged)
        ...

    @hookimpl
    def mengchong_subscribers(app):
        return [Subscriber("leaderboard.points", (PointsChanged,), on_points)]
"""

from mengchong.events.bus import Event, EventBus, EventHandler, Subscriber, record_event
from mengchong.events.catalog import (
    PET_ADOPTED,
    PET_INTERACTED,
    PET_LEVELED_UP,
    POINTS_CHANGED,
    USER_BANNED,
    USER_CREATED,
    USER_UNBANNED,
    EventPayload,
    PetAdopted,
    PetInteracted,
    PetLeveledUp,
    PointsChanged,
    UserBanned,
    UserCreated,
    UserUnbanned,
    event_names,
    payload_type,
)
from mengchong.events.once import once_per_event

__all__ = [
    "PET_ADOPTED",
    "PET_INTERACTED",
    "PET_LEVELED_UP",
    "POINTS_CHANGED",
    "USER_BANNED",
    "USER_CREATED",
    "USER_UNBANNED",
    "Event",
    "EventBus",
    "EventHandler",
    "EventPayload",
    "PetAdopted",
    "PetInteracted",
    "PetLeveledUp",
    "PointsChanged",
    "Subscriber",
    "UserBanned",
    "UserCreated",
    "UserUnbanned",
    "event_names",
    "once_per_event",
    "payload_type",
    "record_event",
]
