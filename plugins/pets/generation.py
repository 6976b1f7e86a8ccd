"""Pet generation as a queue task: the route records a pending task and publishes it; the
consumer runs the generator on the stored photo and keeps the result in the cache port for
``generation_result_ttl_seconds``, waiting for adoption. Tasks and results carry their owner,
so another user's id is a 403, an unknown or expired one a 404."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web

from mengchong.http.errors import field_error, forbidden, not_found
from mengchong.keys import cache_key, clock_key, files_key, queue_key
from mengchong.storage.queue import Message
from mengchong_plugins.pets.generator import GenerationError, GenerationInput, PetGenerator

log = logging.getLogger("mengchong.pets")

GENERATION_QUEUE = "pets.generate"
ID_LENGTH = 32
generator_key: web.AppKey[PetGenerator] = web.AppKey("pets.generator")
ttl_key: web.AppKey[int] = web.AppKey("pets.generation_ttl")


def task_key(app: web.Application, task_id: str) -> str:
    return app[cache_key].key("pets", "gen", "task", task_id)


def result_key(app: web.Application, result_id: str) -> str:
    return app[cache_key].key("pets", "gen", "result", result_id)


async def owned_entry(app: web.Application, key: str, field: str, value: str, user_id: int) -> dict[str, Any]:
    if len(value) != ID_LENGTH or not value.isalnum():
        raise field_error(field, f"must be {ID_LENGTH} letters or digits")
    entry = await app[cache_key].get_json(key)
    if entry is None:
        raise not_found("Generation task" if field == "task_id" else "Generation result")
    if entry["user_id"] != user_id:
        raise forbidden("This belongs to another user")
    return entry


async def start(app: web.Application, user_id: int, photo: dict[str, Any], attributes: dict[str, Any]) -> str:
    """Record a pending task and queue it; returns the task id."""
    task_id = uuid.uuid4().hex
    task = {
        "user_id": user_id,
        "photo_id": photo["id"],
        "file_key": photo["file_key"],
        "attributes": attributes,
        "status": "pending",
        "created_at": app[clock_key].now().isoformat(),
    }
    await app[cache_key].set_json(task_key(app, task_id), task, app[ttl_key])
    await app[queue_key].publish(GENERATION_QUEUE, {"task_id": task_id}, message_id=task_id)
    return task_id


async def finish(app: web.Application, task_id: str, task: dict[str, Any], **changes: Any) -> None:
    await app[cache_key].set_json(task_key(app, task_id), {**task, **changes}, app[ttl_key])


async def run(app: web.Application, message: Message, max_attempts: int) -> None:
    """The queue consumer: generate, store the result, mark the task done (or failed)."""
    task_id = message.body["task_id"]
    task = await app[cache_key].get_json(task_key(app, task_id))
    if task is None or task["status"] != "pending":
        return  # expired, or already handled by an earlier delivery
    try:
        image = await app[files_key].get(task["file_key"])
        result = await app[generator_key].generate(GenerationInput(image, task["attributes"]))
    except (GenerationError, FileNotFoundError) as exc:
        log.info("generation %s failed: %s", task_id, exc, extra={"task_id": task_id})
        await finish(app, task_id, task, status="failed", error=str(exc))
        return
    except Exception:
        if message.attempt >= max_attempts:
            await finish(app, task_id, task, status="failed", error="the generator kept failing")
        raise  # the queue retries with backoff
    result_id = uuid.uuid4().hex
    stored = {"user_id": task["user_id"], "photo_id": task["photo_id"], "result": result.as_dict()}
    await app[cache_key].set_json(result_key(app, result_id), stored, app[ttl_key])
    await finish(app, task_id, task, status="done", generation_result_id=result_id)


def task_view(task_id: str, task: dict[str, Any], result: dict[str, Any] | None) -> dict[str, Any]:
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
