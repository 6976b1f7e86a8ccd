"""Pets and their interactions in the documents port (MongoDB in production, the SQL table in
the embedded default): how a pet document looks, and turning it into what the API shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from mengchong.http.errors import field_error, forbidden, not_found
from mengchong.http.pagination import Page
from mengchong.keys import documents_key
from mengchong.storage.documents import Collection
from mengchong_plugins.pets.rules import PetState, Status

PETS = "pets"
INTERACTIONS = "pet_interactions"
PET_ID = re.compile(r"[0-9a-f]{32}")


def pets(app: web.Application) -> Collection:
    return app[documents_key].collection(PETS)


def interactions(app: web.Application) -> Collection:
    return app[documents_key].collection(INTERACTIONS)


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


async def owned_pet(app: web.Application, pet_id: str, user_id: int) -> dict[str, Any]:
    """The pet document if it is the user's: 400 malformed id, 404 none, 403 another's."""
    if not PET_ID.fullmatch(pet_id):
        raise field_error("pet_id", "must be 32 lowercase hex characters")
    pet = await pets(app).get(pet_id)
    if pet is None:
        raise not_found("Pet")
    if pet["user_id"] != user_id:
        raise forbidden("This pet belongs to another user")
    return pet


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


def pet_view(pet: dict[str, Any], state: PetState, thumbnail_url: str | None) -> dict[str, Any]:
    """The full pet as the API answers it (seed §5.3.3)."""
    return {
        "pet_id": pet["id"],
        "name": pet["name"],
        "species": pet["species"],
        "personality": pet["personality"],
        "appearance_features": pet["appearance_features"],
        "model_data": pet["model_data"],
        "level": state.level,
        "experience": state.experience,
        "status": state.status.rounded(),
        "thumbnail_url": thumbnail_url,
        "created_at": pet["created_at"],
        "last_interaction_at": pet.get("last_interaction_at"),
    }


SUMMARY_FIELDS = ["name", "species", "level", "photo_id"]
"""What :func:`summary_view` and its thumbnail need of a pet: all a list reads."""


def summary_view(pet: dict[str, Any], thumbnail_url: str | None) -> dict[str, Any]:
    return {
        "pet_id": pet["id"],
        "name": pet["name"],
        "species": pet["species"],
        "level": pet["level"],
        "thumbnail_url": thumbnail_url,
    }
