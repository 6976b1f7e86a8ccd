"""``create_app(settings)``: the plugin manager, the storage ports, the request pipeline and every
plugin's routes, startup code and background tasks, assembled into one aiohttp application.

Start-up order: storage opens, then each plugin's ``mengchong_cleanup_ctx`` in registration
order, then the queue consumers, then the background tasks. Shutdown runs the same steps
backwards, so no task or plugin ever sees a closed connection. A command run without serving
(:func:`started`) takes the same steps but the consumers and tasks (``SERVING_ONLY``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from aiohttp import web

from mengchong.accounts.profiles import UserRows
from mengchong.accounts.tokens import TokenService
from mengchong.clock import Clock, SystemClock
from mengchong.config import ConfigError, Settings
from mengchong.economy.items import catalog_from_plugins
from mengchong.events import EventBus
from mengchong.http.access_log import AccessLog
from mengchong.http.metrics import Metrics
from mengchong.http.openapi import setup_openapi
from mengchong.http.pipeline import RequestPipeline
from mengchong.http.ratelimit import Limiter
from mengchong.keys import (
    cache_key,
    clock_key,
    database_key,
    documents_key,
    events_key,
    files_key,
    item_catalog_key,
    limiter_key,
    metrics_key,
    plugin_manager_key,
    plugin_settings_key,
    plugins_key,
    queue_key,
    settings_key,
    tasks_key,
    tokens_key,
    user_rows_key,
    wechat_key,
    word_filter_key,
)
from mengchong.moderation import SensitiveWordFilter, read_word_list
from mengchong.plugin_manager import PluginInfo, build_plugin_manager, calls_by_plugin, hook_items
from mengchong.plugin_sections import load_plugin_settings
from mengchong.storage import StartupError
from mengchong.storage.cache import open_cache
from mengchong.storage.database import Database, ModelSet
from mengchong.storage.documents import open_documents
from mengchong.storage.files import open_files
from mengchong.storage.queue import open_queue
from mengchong.tasks import Consumer, TaskSupervisor
from mengchong.wechat import WechatClient

KERNEL_MODELS = ModelSet(
    "core",
    ["mengchong.storage.models", "mengchong.accounts.models", "mengchong.economy.models"],
    "mengchong.migrations",
)


def model_sets(pm: Any) -> list[ModelSet]:
    """The kernel's tortoise app followed by every enabled plugin's."""
    sets = [KERNEL_MODELS]
    for plugin, model_set in calls_by_plugin(pm, "mengchong_models"):
        sets.append(ModelSet(model_set.label, model_set.models, model_set.migrations, owner=plugin))
    return sets


def build_database(settings: Settings, sets: list[ModelSet]) -> Database:
    return Database(
        settings.database.url,
        sets,
        pool_min=settings.database.pool_min,
        pool_max=settings.database.pool_max,
        timezone=settings.app.timezone,
        connect_timeout=settings.database.connect_timeout_seconds,
        statement_timeout=settings.database.statement_timeout_seconds,
    )


async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open every storage port once; close them in reverse order at shutdown."""
    database = app[database_key]
    ports = [
        ("database", database),
        ("cache", app[cache_key]),
        ("files", app[files_key]),
        ("queue", app[queue_key]),
        ("documents", app[documents_key]),
    ]
    opened: list[Any] = []
    try:
        for name, port in ports:
            try:
                with database.activate():
                    await port.open()
            except Exception as exc:
                raise StartupError(f"cannot open the {name} ({type(port).__name__}): {exc}") from exc
            opened.append(port)
        yield
    finally:
        for port in reversed(opened):
            with database.activate():
                await port.close()


def plugin_ctx(database: Database, plugin: str, generator: AsyncIterator[None]) -> Any:
    """Wrap one plugin's cleanup generator so it runs with the database context active."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        with database.activate():
            await generator.__anext__()
        yield
        with database.activate():
            try:
                await generator.__anext__()
            except StopAsyncIteration:
                return
        raise RuntimeError(f"plugin {plugin}: mengchong_cleanup_ctx must yield exactly once")

    return ctx


def queue_consumers(app: web.Application) -> list[Consumer]:
    """Every queue consumer of the app's plugins (each plugin's queues, each event subscriber's)."""
    return hook_items(app[plugin_manager_key], "mengchong_consumers", app=app)


async def consumers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start every plugin's queue consumers (the queue port stops them when it closes)."""
    database, queue = app[database_key], app[queue_key]
    for consumer in queue_consumers(app):
        with database.activate():  # handlers run in a copy of this context
            await queue.consume(consumer.queue, consumer.handle)
    yield


async def tasks_ctx(app: web.Application) -> AsyncIterator[None]:
    supervisor = app[tasks_key]
    for task in hook_items(app[plugin_manager_key], "mengchong_tasks", app=app):
        supervisor.start(task)
    yield
    await supervisor.stop()


SERVING_ONLY = (consumers_ctx, tasks_ctx)
"""Startup steps of a serving process only: :func:`started` leaves them out unless serving."""


@asynccontextmanager
async def started(app: web.Application, *, serving: bool = False) -> AsyncIterator[web.Application]:
    """Start ``app`` without an HTTP server; shut it down on leaving, also when the body raises.

    Without ``serving`` the queue consumers and background tasks stay off: a one-off command gets
    the storage ports and every plugin's startup code, nothing that works on its own meanwhile.
    """
    if not serving:
        for ctx in SERVING_ONLY:
            app.cleanup_ctx.remove(ctx)
    app.on_startup.freeze()  # as aiohttp's AppRunner does; the whole app is frozen once started
    try:
        await app.startup()
        app.freeze()
        try:
            yield app
        finally:
            await app.shutdown()
    finally:
        await app.cleanup()  # only the steps that started, in reverse


def mount_routes(app: web.Application, pm: Any, infos: list[PluginInfo]) -> None:
    by_name = {info.name: info for info in infos}
    for plugin, route_defs in calls_by_plugin(pm, "mengchong_routes", app=app):
        before = len(app.router.routes())
        app.router.add_routes(route_defs)
        for route in list(app.router.routes())[before:]:
            if route.method != "HEAD":
                by_name[plugin].routes.append(f"{route.method} {route.resource.canonical}")


def build_tokens(settings: Settings) -> TokenService:
    auth = settings.auth
    return TokenService(
        {**auth.jwt_previous_keys, auth.jwt_kid: auth.jwt_secret},
        auth.jwt_kid,
        issuer=auth.jwt_issuer,
        audience=auth.jwt_audience,
        ttl_seconds=auth.token_ttl_seconds,
    )


def build_word_filter(settings: Settings) -> SensitiveWordFilter:
    try:
        return SensitiveWordFilter(read_word_list(settings.moderation.words_file or None))
    except OSError as exc:
        raise ConfigError(
            f"moderation.words_file: cannot read {settings.moderation.words_file}: {exc}"
        ) from None


def create_app(
    settings: Settings,
    plugins: Iterable[tuple[str, object]] = (),
    *,
    enable_all_plugins: bool = False,
    clock: Clock | None = None,
) -> web.Application:
    """Build the application; nothing is connected until it starts.

    ``plugins`` are extra (name, plugin) pairs registered as enabled, beside the entry points.
    ``clock`` is where the app reads the time (``app[clock_key]``): the system's by default, a
    :class:`mengchong.clock.ManualClock` in tests.
    """
    pm, infos = build_plugin_manager(settings, plugins, enable_all=enable_all_plugins)
    plugin_settings = load_plugin_settings(settings, pm)

    metrics = Metrics()
    database = build_database(settings, model_sets(pm))
    cache = open_cache(settings.cache)
    limiter = Limiter(settings.ratelimit, cache, metrics.ratelimit_refusals, metrics.ratelimit_unlimited)
    access_log = AccessLog() if settings.server.access_log else None
    app = web.Application(client_max_size=settings.server.max_body_bytes)
    app[settings_key] = settings
    app[clock_key] = clock if clock is not None else SystemClock()
    database.clock = app[clock_key]  # events recorded in a transaction are stamped with it
    app[plugin_manager_key] = pm
    app[plugins_key] = infos
    app[plugin_settings_key] = plugin_settings
    app[metrics_key] = metrics
    app[database_key] = database
    app[cache_key] = cache
    app[limiter_key] = limiter
    app[tokens_key] = build_tokens(settings)
    app[word_filter_key] = build_word_filter(settings)
    app[wechat_key] = WechatClient(settings.wechat, cache)
    app[documents_key] = open_documents(settings.documents, database)
    app[queue_key] = open_queue(settings.queue)
    app[files_key] = open_files(settings.files)
    app[user_rows_key] = UserRows(
        cache,
        database,
        size=settings.cache.profiles,
        max_age_seconds=settings.cache.profile_max_age_seconds,
    )
    app[item_catalog_key] = catalog_from_plugins(app)  # after the plugin settings it may read
    app[events_key] = EventBus(app, database, app[queue_key], metrics, settings.events)
    for plugin, subscribers in calls_by_plugin(pm, "mengchong_subscribers", app=app):
        app[events_key].subscribe(plugin, subscribers)
    app[tasks_key] = TaskSupervisor(app, database, metrics)

    if access_log is not None:
        app.cleanup_ctx.append(access_log.cleanup_ctx)  # first in, so its last flush comes last
    app.cleanup_ctx.append(storage_ctx)
    for plugin, generator in calls_by_plugin(pm, "mengchong_cleanup_ctx", app=app):
        app.cleanup_ctx.append(plugin_ctx(database, plugin, generator))
    app.cleanup_ctx.append(consumers_ctx)
    app.cleanup_ctx.append(tasks_ctx)

    mount_routes(app, pm, infos)
    setup_openapi(app, version("mengchong"))
    RequestPipeline(database, metrics, limiter, access_log).mount(app)  # after the last route
    return app
