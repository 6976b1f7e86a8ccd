"""Pets, their interactions and their photos in the documents port (MongoDB in production, the SQL
table in the embedded default): the collections, and how a pet document stores its state. What the
API shows of a document is in :mod:`mengchong_plugins.pets.views`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from mengchong.http.conventions import owned
from mengchong.http.pagination import Page
from mengchong.keys import cache_key, documents_key, settings_key
from mengchong.storage.documents import Collection
from mengchong.storage.kept_documents import KeptCollection
from mengchong_plugins.pets.rules import PetState, Status

PETS = "pets"
INTERACTIONS = "pet_interactions"
PHOTOS = "pet_photos"
SUMMARY_FIELDS = ["name", "species", "level", "photo_id"]
"""What a pet list shows of each pet (:func:`mengchong_plugins.pets.views.summary_view`) and its
thumbnail need: all a list reads."""


kept_pets_key: web.AppKey[KeptCollection] = web.AppKey("pets.kept_pets", KeptCollection)


def keep_pets(app: web.Application) -> None:
    """Make the pets collection a kept one (:mod:`mengchong.storage.kept_documents`): a pet read
    by its id is served from this process's copy while no write has changed it."""
    cache = app[settings_key].cache
    app[kept_pets_key] = KeptCollection(
        app[documents_key].collection(PETS), app[cache_key], cache.profiles, cache.profile_max_age_seconds
    )


def pets(app: web.Application) -> KeptCollection:
    """The pets, every write of them through here (it keeps the stored versions true)."""
    return app[kept_pets_key]


def interactions(app: web.Application) -> Collection:
    return app[documents_key].collection(INTERACTIONS)


def photos(app: web.Application) -> Collection:
    return app[documents_key].collection(PHOTOS)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def page_of(
    collection: Collection,
    filter: dict[str, Any],
    sort: list[tuple[str, int]],
    page: Page,
    fields: list[str] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of documents (only ``fields`` of each, when given) and the total that match."""
    return await collection.find_page(filter, sort=sort, skip=page.offset, limit=page.limit, fields=fields)


async def owned_pet(
    app: web.Application, pet_id: str, user_id: int, stored_version: str | None = None
) -> dict[str, Any]:
    """The pet document if it is the user's: 404 none, 403 another's. ``stored_version``: the
    pet's stored version if the request's round trip read it (:data:`mengchong.keys.DOC_VERSION`)."""
    return owned(await pets(app).get(pet_id, stored_version), user_id, "Pet")


def state_of(pet: dict[str, Any]) -> PetState:
    status_at = parse_iso(pet["status_at"])
    assert status_at is not None
    return PetState(
        status=Status.from_mapping(pet["status"]),
        status_at=status_at,
        level=int(pet["level"]),
        experience=int(pet["experience"]),
        personality=pet.get("personality"),
    )


def state_fields(state: PetState) -> dict[str, Any]:
    """What a pet document stores of a state: floats unrounded, so reads never change results."""
    return {
        "status": state.status.as_dict(),
        "status_at": iso(state.status_at),
        "level": state.level,
        "experience": state.experience,
    }
