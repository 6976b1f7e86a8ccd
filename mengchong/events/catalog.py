"""The catalog of domain events: each name once, as a constant, with its payload's typed shape.

A payload is a frozen dataclass deriving :class:`EventPayload` with the event's ``NAME``;
defining it registers the name, and a name defined twice fails at import. The kernel's events
are below; a plugin defines its own the same way in its own module (``checkin.completed`` in
the check-in plugin) and imports another plugin's or the kernel's, never a string literal.

Payloads carry absolute values (the balance after a change, a pet's level and experience after
an interaction) so a consumer can set what it keeps rather than add to it: redelivering an
event then changes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar, Self

_REGISTERED: dict[str, type[EventPayload]] = {}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def where_defined(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclasses.dataclass(frozen=True)
class EventPayload:
    """Base of every event payload; subclasses set ``NAME`` and declare their fields."""

    NAME: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("NAME")
        if not isinstance(name, str) or "." not in name:
            raise TypeError(f"{cls.__name__}: NAME must be a dotted event name like 'pet.adopted'")
        earlier = _REGISTERED.get(name)
        if earlier is not None and where_defined(earlier) != where_defined(cls):
            raise TypeError(f"event {name!r} is already defined by {where_defined(earlier)}")
        _REGISTERED[name] = cls

    def as_payload(self) -> dict[str, Any]:
        """The fields as a dict (payload fields are JSON values: ints, strings, lists of them).

        Not ``dataclasses.asdict``: its deep copy was a fifth of writing an event."""
        return {name: getattr(self, name) for name in _field_names(type(self))}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        """The typed payload; fields added after the event was written take their defaults."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in payload.items() if key in names})


def payload_type(name: str) -> type[EventPayload] | None:
    """The payload class registered for an event name, if any."""
    return _REGISTERED.get(name)


def event_names() -> list[str]:
    """Every event name defined so far (the kernel's and the imported plugins')."""
    return sorted(_REGISTERED)


@dataclasses.dataclass(frozen=True)
class UserCreated(EventPayload):
    """A user logged in for the first time."""

    NAME: ClassVar[str] = "user.created"
    user_id: int
    role: str


@dataclasses.dataclass(frozen=True)
class UserBanned(EventPayload):
    """An admin banned the user (every token revoked)."""

    NAME: ClassVar[str] = "user.banned"
    user_id: int


@dataclasses.dataclass(frozen=True)
class UserUnbanned(EventPayload):
    """An admin lifted the user's ban."""

    NAME: ClassVar[str] = "user.unbanned"
    user_id: int


@dataclasses.dataclass(frozen=True)
class PointsChanged(EventPayload):
    """A user's points balance changed by ``delta``; ``balance`` is the balance right after."""

    NAME: ClassVar[str] = "points.changed"
    user_id: int
    delta: int
    balance: int
    reason: str
    ref: str | None


@dataclasses.dataclass(frozen=True)
class PetAdopted(EventPayload):
    """A user adopted a pet (level 1, no experience yet)."""

    NAME: ClassVar[str] = "pet.adopted"
    user_id: int
    pet_id: str
    species: str
    name: str
    level: int
    experience: int


@dataclasses.dataclass(frozen=True)
class PetInteracted(EventPayload):
    """An interaction was written; ``level``, ``experience`` and ``hunger`` (satiety 0..100,
    rounded) are the pet's after it. ``name`` and ``hunger`` default for events written before
    they were added."""

    NAME: ClassVar[str] = "pet.interacted"
    user_id: int
    pet_id: str
    interaction_type: str
    level: int
    experience: int
    experience_gained: int
    name: str = ""
    hunger: int = 100


@dataclasses.dataclass(frozen=True)
class PetLeveledUp(EventPayload):
    """An interaction took a pet up ``levels_passed`` levels, to ``level``."""

    NAME: ClassVar[str] = "pet.leveled_up"
    user_id: int
    pet_id: str
    level: int
    experience: int
    levels_passed: list[int]  # every level reached, in order


USER_CREATED = UserCreated.NAME
USER_BANNED = UserBanned.NAME
USER_UNBANNED = UserUnbanned.NAME
POINTS_CHANGED = PointsChanged.NAME
PET_ADOPTED = PetAdopted.NAME
PET_INTERACTED = PetInteracted.NAME
PET_LEVELED_UP = PetLeveledUp.NAME
