"""Adoption, reads with decay written back, lists, and interactions: what the pets routes call.

An interaction with an item is serialised per pet (a cache lock) and takes its item from the
inventory in a relational transaction; every interaction writes the pet with a compare-and-set
on its version, its history entry going in with it (both or neither). If that write fails, the
item is given back: MongoDB writes are not part of the SQL transaction.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from mengchong import plugin_settings
from mengchong.clock import local_day
from mengchong.economy.inventory import consume_items, grant_items
from mengchong.events import EventPayload, PetAdopted, PetInteracted, PetLeveledUp
from mengchong.http.errors import ApiError, ErrorCode, FieldError, conflict, field_error
from mengchong.http.pagination import Page
from mengchong.keys import (
    cache_key,
    clock_key,
    database_key,
    events_key,
    item_catalog_key,
    settings_key,
)
from mengchong.storage.documents import DuplicateDocument, Record
from mengchong_plugins.pets import generation, store
from mengchong_plugins.pets.rules import (
    InteractionRefused,
    InteractionResult,
    InteractionThrottled,
    PetState,
    Status,
    pet_at,
    resolve_interaction,
)
from mengchong_plugins.pets.settings import PetsSettings

LOCK_SECONDS = 10.0
WRITE_ATTEMPTS = 10  # compare-and-set rounds before a 409; each re-reads and re-plans
RETRY_PAUSE_SECONDS = 0.004  # the most a lost round waits, times its number, before the next
LOCK_WAIT_SECONDS = 10.0


async def adopt_pet(
    app: web.Application, user_id: int, result_id: str, name: str, personality: str | None
) -> tuple[dict[str, Any], PetState]:
    """Create the pet from the user's generation result, with the ``personality`` the user chose
    (one of ``pets.personalities``, else 400) or the generated one; a result is adopted once (409).
    Returns the stored pet and its state."""
    settings = plugin_settings(app, PetsSettings)
    entry = await generation.owned_result(app, result_id, user_id)
    generated = entry["result"]
    if personality is not None and personality not in settings.personalities:
        known = ", ".join(sorted(settings.personalities))
        raise field_error("initial_attributes.personality", f"must be one of {known}")
    collection = store.pets(app)
    now = app[clock_key].now()
    async with app[cache_key].lock(
        f"pets:adopt:{user_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS
    ):
        if await collection.count({"user_id": user_id}) >= settings.max_pets_per_user:
            raise ApiError(
                ErrorCode.UNPROCESSABLE,
                f"You already have {settings.max_pets_per_user} pets, the most one user may keep",
            )
        state = PetState(Status.initial(settings), now, level=1, experience=0)
        document = {
            "user_id": user_id,
            "name": name,
            "species": generated["species"],
            "personality": personality or generated["personality"],
            "appearance_features": generated["appearance_features"],
            "model_data": generated["model_data"],
            "photo_id": entry["photo_id"],
            "generation_result_id": result_id,
            "created_at": store.iso(now),
            "last_interaction_at": None,
            "last_by_type": {},
            "earned": {"day": None, "experience": 0},
            **store.state_fields(state),
        }
        try:
            pet = await collection.insert(document, doc_id=result_id)
        except DuplicateDocument:
            raise conflict("This generation result was already adopted") from None
    await app[events_key].publish(
        PetAdopted(
            user_id=user_id,
            pet_id=pet["id"],
            species=pet["species"],
            name=pet["name"],
            level=pet["level"],
            experience=pet["experience"],
        )
    )
    return pet, store.state_of(pet)


async def pet_now(
    app: web.Application, user_id: int, pet_id: str, stored_version: str | None = None
) -> tuple[dict[str, Any], PetState]:
    """The user's pet and its state now, decay applied. Decay is path-independent, so the result is
    the same whether or not it is stored; it is written back once the stored state is
    ``decay_write_back_seconds`` old, so a pet read often is not rewritten on every read (a lost
    race just means someone else wrote)."""
    settings = plugin_settings(app, PetsSettings)
    pet = await store.owned_pet(app, pet_id, user_id, stored_version)
    now = app[clock_key].now()
    stored = store.state_of(pet)
    state = pet_at(stored, now, settings)
    if (now - stored.status_at).total_seconds() >= settings.decay_write_back_seconds:
        await store.pets(app).update(pet["id"], store.state_fields(state), expected_version=pet["version"])
    return pet, state


async def list_pets(app: web.Application, user_id: int, page: Page) -> tuple[list[dict[str, Any]], int]:
    """A page of the user's pets, oldest first (only :data:`store.SUMMARY_FIELDS`), and their total."""
    return await store.page_of(
        store.pets(app), {"user_id": user_id}, [("created_at", 1)], page, store.SUMMARY_FIELDS
    )


async def interaction_history(
    app: web.Application, user_id: int, pet_id: str, page: Page, stored_version: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A page of the user's pet's interactions, newest first, and their total."""
    pet = await store.owned_pet(app, pet_id, user_id, stored_version)
    return await store.page_of(store.interactions(app), {"pet_id": pet["id"]}, [("created_at", -1)], page)


def refusal_error(exc: InteractionRefused | InteractionThrottled) -> ApiError:
    """The API error of a refusal by the rules: 429 with Retry-After, or 400 naming the field."""
    if isinstance(exc, InteractionThrottled):
        retry_after = max(1, int(exc.retry_after + 0.999))
        return ApiError(ErrorCode.RATE_LIMITED, exc.message, headers={"Retry-After": str(retry_after)})
    return ApiError(ErrorCode.BAD_REQUEST, exc.message, [FieldError(exc.field, exc.reason)])


def plan_interaction(
    app: web.Application, pet: dict[str, Any], interaction_type: str, item_id: str | None, now: datetime
) -> tuple[InteractionResult, dict[str, Any]]:
    """What the interaction does to this pet document at ``now``, and the fields to write."""
    settings = plugin_settings(app, PetsSettings)
    timezone = app[settings_key].app.timezone
    today = local_day(now, timezone).isoformat()
    earned = pet["earned"]["experience"] if pet["earned"]["day"] == today else 0
    try:
        result = resolve_interaction(
            store.state_of(pet),
            interaction_type,
            settings.items[item_id] if item_id is not None else None,
            now=now,
            last_at=store.parse_iso(pet["last_by_type"].get(interaction_type)),
            earned_today=earned,
            timezone=timezone,
            settings=settings,
            item_id=item_id,
        )
    except (InteractionRefused, InteractionThrottled) as exc:
        raise refusal_error(exc) from None
    changes = {
        **store.state_fields(PetState(result.status, result.status_at, result.level, result.experience)),
        "last_interaction_at": store.iso(now),
        "last_by_type": {**pet["last_by_type"], interaction_type: store.iso(now)},
        "earned": {"day": today, "experience": earned + result.experience_gained},
    }
    return result, changes


async def write_interaction(
    app: web.Application,
    pet: dict[str, Any],
    planned: tuple[InteractionResult, dict[str, Any], datetime],
    user_id: int,
    interaction_type: str,
    item_id: str | None,
) -> tuple[dict[str, Any], InteractionResult] | None:
    """Compare-and-set the pet with what was planned, its history entry and its events (the
    events in the same statement on the SQL documents store). Reads write decay back without the
    pet's lock, so a lost race is planned again on the fresh document (decay is
    path-independent: same outcome)."""
    collection, events = store.pets(app), app[events_key]
    result, changes, now = planned
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            # A random pause spreads out writers that all lost to the same winner, so they don't
            # collide again in lockstep.
            await asyncio.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))
            pet = await store.owned_pet(app, pet["id"], user_id)
            now = app[clock_key].now()
            result, changes = plan_interaction(app, pet, interaction_type, item_id, now)
        entry = history_entry(user_id, pet["id"], interaction_type, item_id, result, now)
        updated = await events.update_with_events(
            collection,
            pet["id"],
            changes,
            interaction_events(user_id, pet, interaction_type, result),
            expected_version=pet["version"],
            record=entry,
        )
        if updated is not None:
            return updated, result
    return None


def history_entry(
    user_id: int,
    pet_id: str,
    interaction_type: str,
    item_id: str | None,
    result: InteractionResult,
    now: datetime,
) -> Record:
    """The interaction's line in the pet's history, written with the pet."""
    entry = {
        "pet_id": pet_id,
        "user_id": user_id,
        "interaction_type": interaction_type,
        "item_id": item_id,
        "deltas": result.deltas,
        "experience_gained": result.experience_gained,
        "levels_passed": result.levels_passed,
        "created_at": store.iso(now),
    }
    return Record(store.INTERACTIONS, entry, uuid.uuid4().hex)


async def interact_with_pet(
    app: web.Application,
    user_id: int,
    pet_id: str,
    interaction_type: str,
    item_id: str | None,
    stored_version: str | None = None,
) -> tuple[dict[str, Any], InteractionResult]:
    """One interaction, start to finish; returns the stored pet and what happened.

    With an item, the pet's lock serialises interactions, so an item is taken only by one that
    will be written. Without one there is nothing to take or give back, and the compare-and-set
    alone keeps concurrent writers apart: no lock, two cache round trips fewer. ``stored_version``
    (the pet's, read by the request's round trip) serves the pet from a kept copy; a copy gone
    stale meanwhile only fails the compare-and-set, which plans again on the database's pet."""
    if item_id is None:
        return await interact_without_lock(app, user_id, pet_id, interaction_type, None, stored_version)
    if item_id not in plugin_settings(app, PetsSettings).items:
        raise field_error("item_id", f"unknown item {item_id!r}")
    lock = app[cache_key].lock(f"pets:pet:{pet_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS)
    async with lock:
        return await interact_without_lock(app, user_id, pet_id, interaction_type, item_id)


async def interact_without_lock(
    app: web.Application,
    user_id: int,
    pet_id: str,
    interaction_type: str,
    item_id: str | None,
    stored_version: str | None = None,
) -> tuple[dict[str, Any], InteractionResult]:
    """One interaction, the pet's lock held when it takes an item (:func:`interact_with_pet`;
    the pet's stored version is read again under the lock)."""
    pet = await store.owned_pet(app, pet_id, user_id, stored_version)
    now = app[clock_key].now()
    # Planned before the item is taken, so that a refusal costs nothing.
    result, changes = plan_interaction(app, pet, interaction_type, item_id, now)
    if item_id is not None:
        await take_item(app, user_id, item_id)
    try:
        written = await write_interaction(
            app, pet, (result, changes, now), user_id, interaction_type, item_id
        )
    except BaseException:  # refused when planned again after a lost race, a backend, a deadline
        if item_id is not None:
            await give_item_back(app, user_id, item_id)
        raise
    if written is None:
        if item_id is not None:
            await give_item_back(app, user_id, item_id)
        raise ApiError(
            ErrorCode.CONFLICT,
            "The pet was changed by other interactions at the same moment; nothing was used. Try again",
            headers={"Retry-After": "1"},
        )
    return written


async def take_item(app: web.Application, user_id: int, item_id: str) -> None:
    """One of the item out of the user's inventory (422 when none is left)."""
    async with app[database_key].transaction() as connection:
        await consume_items(connection, user_id, item_id, 1)


async def give_item_back(app: web.Application, user_id: int, item_id: str) -> None:
    """The item taken for an interaction that was not written, back into the inventory."""
    async with app[database_key].transaction() as connection:
        await grant_items(connection, app[item_catalog_key], user_id, item_id, 1)


def interaction_events(
    user_id: int, pet: dict[str, Any], interaction_type: str, result: InteractionResult
) -> list[EventPayload]:
    """What the other modules are told of an interaction: the pet's level, experience and
    satiety after it, and its new level when it passed one."""
    events: list[EventPayload] = [
        PetInteracted(
            user_id=user_id,
            pet_id=pet["id"],
            interaction_type=interaction_type,
            level=result.level,
            experience=result.experience,
            experience_gained=result.experience_gained,
            name=str(pet.get("name", "")),
            hunger=int(result.status.hunger + 0.5),  # half up, as the pet's view shows it
        )
    ]
    if result.leveled_up:
        events.append(
            PetLeveledUp(
                user_id=user_id,
                pet_id=pet["id"],
                level=result.level,
                experience=result.experience,
                levels_passed=result.levels_passed,
            )
        )
    return events
