"""Pet generation as a queue task: the route records a pending task and publishes it; the
consumer runs the generator on the stored photo and keeps the result in the cache port for
``generation_result_ttl_seconds``, waiting for adoption. Tasks and results carry their owner,
so another user's id is a 403, an unknown or expired one a 404. Also which generator the app
runs (:func:`build_generator`)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from mengchong.http.errors import forbidden, not_found
from mengchong.keys import cache_key, clock_key, files_key, queue_key
from mengchong.storage.queue import Message
from mengchong_plugins.pets import photos
from mengchong_plugins.pets.generator import BuiltinGenerator, GenerationError, GenerationInput, PetGenerator
from mengchong_plugins.pets.generator_http import HttpGenerator
from mengchong_plugins.pets.settings import PetsSettings

log = logging.getLogger("mengchong.pets")

GENERATION_QUEUE = "pets.generate"
generator_key: web.AppKey[PetGenerator] = web.AppKey("pets.generator")
ttl_key: web.AppKey[int] = web.AppKey("pets.generation_ttl")


def build_generator(settings: PetsSettings, session: aiohttp.ClientSession | None = None) -> PetGenerator:
    """The generator ``[pets.generator]`` chooses, knowing the configured species and personalities."""
    if settings.generator.provider == "http":
        return HttpGenerator(settings, session)
    return BuiltinGenerator(settings)


def task_key(app: web.Application, task_id: str) -> str:
    return app[cache_key].key("pets", "gen", "task", task_id)


def result_key(app: web.Application, result_id: str) -> str:
    return app[cache_key].key("pets", "gen", "result", result_id)


async def owned_task(app: web.Application, task_id: str, user_id: int) -> dict[str, Any]:
    """The generation task if it is the user's: 404 none (or expired), 403 another's."""
    return await _owned_entry(app, task_key(app, task_id), "Generation task", user_id)


async def owned_result(app: web.Application, result_id: str, user_id: int) -> dict[str, Any]:
    """The generation result waiting for adoption if it is the user's: 404 none, 403 another's."""
    return await _owned_entry(app, result_key(app, result_id), "Generation result", user_id)


async def _owned_entry(app: web.Application, key: str, what: str, user_id: int) -> dict[str, Any]:
    # Not the kernel's `owned`: its 403 message would name the entry, and clients have this one.
    entry = await app[cache_key].get_json(key)
    if entry is None:
        raise not_found(what)
    if entry["user_id"] != user_id:
        raise forbidden("This belongs to another user")
    return entry


async def start_generation(
    app: web.Application, user_id: int, photo_id: str, attributes: dict[str, Any]
) -> str:
    """Record a pending task for the user's photo and queue it; returns the task id."""
    photo = await photos.owned_photo(app, photo_id, user_id)
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


async def task_with_result(
    app: web.Application, task_id: str, user_id: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The user's task and, once it is done, its result (None when it has expired)."""
    task = await owned_task(app, task_id, user_id)
    if task["status"] != "done":
        return task, None
    return task, await app[cache_key].get_json(result_key(app, task["generation_result_id"]))


async def save_task(app: web.Application, task_id: str, task: dict[str, Any], **changes: Any) -> None:
    await app[cache_key].set_json(task_key(app, task_id), {**task, **changes}, app[ttl_key])


async def run_generation_task(app: web.Application, message: Message, max_attempts: int) -> None:
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
        await save_task(app, task_id, task, status="failed", error=str(exc))
        return
    except Exception:
        if message.attempt >= max_attempts:
            await save_task(app, task_id, task, status="failed", error="the generator kept failing")
        raise  # the queue retries with backoff
    result_id = uuid.uuid4().hex
    stored = {"user_id": task["user_id"], "photo_id": task["photo_id"], "result": result.as_dict()}
    await app[cache_key].set_json(result_key(app, result_id), stored, app[ttl_key])
    await save_task(app, task_id, task, status="done", generation_result_id=result_id)
