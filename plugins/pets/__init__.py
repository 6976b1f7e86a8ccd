"""The pets plugin: photo upload, pet generation, adoption, status decay and the five
interactions (seed §5.3, §5.4). Pets live in the documents port; items come from the kernel's
inventory; ``pet.adopted``, ``pet.interacted`` and ``pet.leveled_up`` events tell the rest.
Its settings are the ``[pets]`` section (:class:`mengchong_plugins.pets.settings.PetsSettings`),
whose ``items`` it adds to the kernel's item catalog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from functools import partial

from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl, plugin_settings
from mengchong.backoffice import Table, UserPanel
from mengchong.economy.items import Item
from mengchong.http.pagination import Page
from mengchong.keys import settings_key
from mengchong.tasks import Consumer
from mengchong_plugins.pets import generation, photos, service, store
from mengchong_plugins.pets.routes import routes
from mengchong_plugins.pets.settings import PetsSettings


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "pets", PetsSettings


@hookimpl
def mengchong_items(app: web.Application) -> Iterable[Item]:
    settings = plugin_settings(app, PetsSettings)
    return [
        Item(item_id, effect.type, effect.name or item_id, effect.description)
        for item_id, effect in settings.items.items()
    ]


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes


@hookimpl
def mengchong_cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        settings = plugin_settings(app, PetsSettings)
        app[generation.generator_key] = generation.build_generator(settings)
        app[generation.ttl_key] = settings.generation_result_ttl_seconds
        app[photos.url_key] = photos.url_signing_key(app[settings_key].auth.jwt_secret)
        store.keep_pets(app)
        await store.pets(app).ensure_index("user_id", "created_at")
        await store.interactions(app).ensure_index("pet_id", "created_at")
        yield
        close = getattr(app[generation.generator_key], "close", None)
        if close is not None:
            await close()

    return lifespan(app)


@hookimpl
def mengchong_consumers(app: web.Application) -> Iterable[Consumer]:
    max_attempts = app[settings_key].queue.max_attempts
    consume = partial(generation.run_generation_task, app, max_attempts=max_attempts)
    return [Consumer(generation.GENERATION_QUEUE, consume)]


async def pets_of(app: web.Application, user_id: int) -> Table:
    """The user's pets, oldest first (a user keeps at most a few)."""
    found, total = await service.list_pets(app, user_id, Page(1, 100))
    rows = [(pet["id"], pet["name"], pet["species"], pet["level"]) for pet in found]
    return Table(("Pet", "Name", "Species", "Level"), rows, [pet["id"] for pet in found], total)


@hookimpl
def mengchong_console_user_panels(app: web.Application) -> Iterable[UserPanel]:
    return [UserPanel("Pets", pets_of)]
