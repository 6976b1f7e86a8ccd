"""Adoption, reads with decay written back, and interactions.

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
from mengchong.events import PetAdopted, PetInteracted, PetLeveledUp
from mengchong.http.errors import ApiError, ErrorCode, FieldError, conflict, field_error
from mengchong.keys import (
    cache_key,
    clock_key,
    database_key,
    events_key,
    item_catalog_key,
    settings_key,
)
from mengchong.storage.documents import DuplicateDocument, Record
from mengchong_plugins.pets import store
from mengchong_plugins.pets.rules import (
    InteractionRefused,
    InteractionResult,
    InteractionThrottled,
    PetState,
    Status,
    interact,
    pet_at,
)
from mengchong_plugins.pets.settings import PetsSettings

LOCK_SECONDS = 10.0
WRITE_ATTEMPTS = 10  # compare-and-set rounds before a 409; each re-reads and re-plans
RETRY_PAUSE_SECONDS = 0.004  # the most a lost round waits, times its number, before the next
LOCK_WAIT_SECONDS = 10.0


def pets_settings(app: web.Application) -> PetsSettings:
    return plugin_settings(app, PetsSettings)


async def adopt(
    app: web.Application, user_id: int, result_id: str, generated: dict[str, Any], name: str, photo_id: str
) -> dict[str, Any]:
    """Create the pet from a generation result; a result can be adopted once (409)."""
    settings = pets_settings(app)
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
            "personality": generated["personality"],
            "appearance_features": generated["appearance_features"],
            "model_data": generated["model_data"],
            "photo_id": photo_id,
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
    return pet


async def read(app: web.Application, pet: dict[str, Any]) -> PetState:
    """The pet now, decay applied. Decay is path-independent, so the result is the same whether
    or not it is stored; it is written back once the stored state is ``decay_write_back_seconds``
    old, so a pet read often is not rewritten on every read (a lost race just means someone else
    wrote)."""
    settings = pets_settings(app)
    now = app[clock_key].now()
    stored = store.state_of(pet)
    state = pet_at(stored, now, settings)
    if (now - stored.status_at).total_seconds() >= settings.decay_write_back_seconds:
        await store.pets(app).update(pet["id"], store.state_fields(state), expected_version=pet["version"])
    return state


def refusal(exc: InteractionRefused | InteractionThrottled) -> ApiError:
    if isinstance(exc, InteractionThrottled):
        retry_after = max(1, int(exc.retry_after + 0.999))
        return ApiError(ErrorCode.RATE_LIMITED, exc.message, headers={"Retry-After": str(retry_after)})
    return ApiError(ErrorCode.BAD_REQUEST, exc.message, [FieldError(exc.field, exc.reason)])


def plan(
    app: web.Application, pet: dict[str, Any], interaction_type: str, item_id: str | None, now: datetime
) -> tuple[InteractionResult, dict[str, Any]]:
    """What the interaction does to this pet document at ``now``, and the fields to write."""
    settings = pets_settings(app)
    timezone = app[settings_key].app.timezone
    today = local_day(now, timezone).isoformat()
    earned = pet["earned"]["experience"] if pet["earned"]["day"] == today else 0
    try:
        result = interact(
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
        raise refusal(exc) from None
    changes = {
        **store.state_fields(PetState(result.status, result.status_at, result.level, result.experience)),
        "last_interaction_at": store.iso(now),
        "last_by_type": {**pet["last_by_type"], interaction_type: store.iso(now)},
        "earned": {"day": today, "experience": earned + result.experience_gained},
    }
    return result, changes


async def write(
    app: web.Application,
    pet: dict[str, Any],
    planned: tuple[InteractionResult, dict[str, Any], datetime],
    user_id: int,
    interaction_type: str,
    item_id: str | None,
) -> tuple[dict[str, Any], InteractionResult] | None:
    """Compare-and-set the pet with what was planned. Reads write decay back without the pet's
    lock, so a lost race is planned again on the fresh document (decay is path-independent:
    same outcome)."""
    collection = store.pets(app)
    result, changes, now = planned
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            # A random pause spreads out writers that all lost to the same winner, so they don't
            # collide again in lockstep.
            await asyncio.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))
            pet = await store.owned_pet(app, pet["id"], user_id)
            now = app[clock_key].now()
            result, changes = plan(app, pet, interaction_type, item_id, now)
        entry = history_entry(user_id, pet["id"], interaction_type, item_id, result, now)
        updated = await collection.update(pet["id"], changes, expected_version=pet["version"], record=entry)
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


async def perform(
    app: web.Application, user_id: int, pet_id: str, interaction_type: str, item_id: str | None
) -> tuple[dict[str, Any], InteractionResult]:
    """One interaction, start to finish; returns the stored pet and what happened.

    With an item, the pet's lock serialises interactions, so an item is taken only by one that
    will be written. Without one there is nothing to take or give back, and the compare-and-set
    alone keeps concurrent writers apart: no lock, two cache round trips fewer."""
    if item_id is None:
        return await interact_unlocked(app, user_id, pet_id, interaction_type, None)
    if item_id not in pets_settings(app).items:
        raise field_error("item_id", f"unknown item {item_id!r}")
    lock = app[cache_key].lock(f"pets:pet:{pet_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS)
    async with lock:
        return await interact_unlocked(app, user_id, pet_id, interaction_type, item_id)


async def interact_unlocked(
    app: web.Application, user_id: int, pet_id: str, interaction_type: str, item_id: str | None
) -> tuple[dict[str, Any], InteractionResult]:
    pet = await store.owned_pet(app, pet_id, user_id)
    now = app[clock_key].now()
    result, changes = plan(app, pet, interaction_type, item_id, now)  # refusals before the item goes
    if item_id is not None:
        await take_item(app, user_id, item_id)
    try:
        written = await write(app, pet, (result, changes, now), user_id, interaction_type, item_id)
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
    updated, result = written
    await announce(app, user_id, pet_id, interaction_type, result)
    return updated, result


async def take_item(app: web.Application, user_id: int, item_id: str) -> None:
    async with app[database_key].transaction() as connection:
        await consume_items(connection, user_id, item_id, 1)


async def give_item_back(app: web.Application, user_id: int, item_id: str) -> None:
    async with app[database_key].transaction() as connection:
        await grant_items(connection, app[item_catalog_key], user_id, item_id, 1)


async def announce(
    app: web.Application, user_id: int, pet_id: str, interaction_type: str, result: InteractionResult
) -> None:
    """Tell the other modules, with the pet's level and experience after the interaction."""
    events = app[events_key]
    await events.publish(
        PetInteracted(
            user_id=user_id,
            pet_id=pet_id,
            interaction_type=interaction_type,
            level=result.level,
            experience=result.experience,
            experience_gained=result.experience_gained,
        )
    )
    if result.leveled_up:
        await events.publish(
            PetLeveledUp(
                user_id=user_id,
                pet_id=pet_id,
                level=result.level,
                experience=result.experience,
                levels_passed=result.levels_passed,
            )
        )
