"""What the pets routes answer: documents, tasks and interaction results turned into the response
``data`` of seed §5.3 and §5.4 (their schemas are in :mod:`mengchong_plugins.pets.schemas`), and
the signed photo URLs in them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from mengchong.accounts.guard import CurrentUser
from mengchong.http.urls import public_base_url
from mengchong.keys import clock_key
from mengchong_plugins.pets import photos
from mengchong_plugins.pets.rules import InteractionResult, PetState

HIDDEN_INTERACTION_FIELDS = ("user_id", "version")


def photo_signer(request: web.Request, user: CurrentUser) -> Callable[[str | None], str | None]:
    """Signs photo URLs for the caller, under the base this request's client reaches us at (the
    base and the time worked out once, for a page of pets)."""
    app = request.app
    base, key, now = public_base_url(request), app[photos.url_key], app[clock_key].now()

    def url(photo_id: str | None) -> str | None:
        if not photo_id:
            return None
        return photos.signed_url(base, key, photo_id, user.id, user.token_version, now)

    return url


def photo_url(request: web.Request, photo_id: str | None, user: CurrentUser) -> str | None:
    """The photo's signed URL (None without a photo)."""
    return photo_signer(request, user)(photo_id) if photo_id else None


def pet_view(pet: dict[str, Any], state: PetState, thumbnail_url: str | None) -> dict[str, Any]:
    """The full pet as the API answers it (seed §5.3.3), its status as of ``state``."""
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


def summary_view(pet: dict[str, Any], thumbnail_url: str | None) -> dict[str, Any]:
    """A pet in a list: only :data:`mengchong_plugins.pets.store.SUMMARY_FIELDS` are read."""
    return {
        "pet_id": pet["id"],
        "name": pet["name"],
        "species": pet["species"],
        "level": pet["level"],
        "thumbnail_url": thumbnail_url,
    }


def interaction_view(entry: dict[str, Any]) -> dict[str, Any]:
    """A line of the pet's interaction history, without its owner and storage version."""
    return {key: value for key, value in entry.items() if key not in HIDDEN_INTERACTION_FIELDS}


def interaction_outcome_view(pet: dict[str, Any], result: InteractionResult) -> dict[str, Any]:
    """What an interaction did: the status after it, the reward and the pet's level."""
    reward = {
        "experience": result.experience_gained,
        "affection": round(result.affection_gained, 2),
        "level": result.level,
        "levels_passed": result.levels_passed,
    }
    return {"updated_status": result.status.rounded(), "reward": reward, "level": pet["level"]}


def task_view(task_id: str, task: dict[str, Any], result: dict[str, Any] | None) -> dict[str, Any]:
    """A generation task: pending, failed (with why) or done (with the preview while it is kept)."""
    view: dict[str, Any] = {"generation_task_id": task_id, "status": task["status"]}
    if task["status"] == "failed":
        view["error"] = task.get("error", "generation failed")
    if task["status"] == "done":
        view["generation_result_id"] = task["generation_result_id"]
        if result is not None:
            generated = result["result"]
            view["pet_preview_data"] = {
                "species": generated["species"],
                "personality": generated["personality"],
                "appearance_features": generated["appearance_features"],
                "model_data": generated["model_data"],
            }
    return view
