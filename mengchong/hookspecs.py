"""Every hook a Mengchong plugin may implement. pluggy project name: ``mengchong``.

Hooks are called with keyword arguments. A hook may return a coroutine where its docstring
says so; the kernel awaits it (see :func:`mengchong.plugin_manager.gather_hook`). A plugin implements
only the hooks it needs, with ``@mengchong.hookimpl``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from aiohttp import web
    from pydantic import BaseModel

    from mengchong.backoffice import Figure, Section, UserPanel
    from mengchong.commands import Command
    from mengchong.economy.items import Item
    from mengchong.events import Subscriber
    from mengchong.storage.database import ModelSet
    from mengchong.tasks import BackgroundTask, Consumer

hookspec = pluggy.HookspecMarker("mengchong")
hookimpl = pluggy.HookimplMarker("mengchong")


@hookspec
def mengchong_settings() -> tuple[str, type[BaseModel]] | None:
    """Return (section name, pydantic model) of the plugin's config.toml section, or None."""


@hookspec
def mengchong_models() -> ModelSet | None:
    """Return the plugin's tortoise app: label, model modules and migrations package."""


@hookspec
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef] | None:
    """Return the plugin's route definitions (a ``web.RouteTableDef`` works), paths under /v1/."""


@hookspec
def mengchong_cleanup_ctx(app: web.Application) -> AsyncIterator[None] | None:
    """Return an async generator: code before ``yield`` runs at startup, after it at shutdown."""


@hookspec
def mengchong_tasks(app: web.Application) -> Iterable[BackgroundTask] | None:
    """Return long-running background tasks (scheduled jobs, sweeps) to supervise and restart."""


@hookspec
def mengchong_consumers(app: web.Application) -> Iterable[Consumer] | None:
    """Return the plugin's queue consumers (a queue name and a handler), started after startup."""


@hookspec
def mengchong_subscribers(app: web.Application) -> Iterable[Subscriber] | None:
    """Return the plugin's event subscribers; each gets a durable queue of its own events."""


@hookspec
def mengchong_items(app: web.Application) -> Iterable[Item] | None:
    """Return the inventory items (id, type, display name) the plugin adds to the item catalog."""


@hookspec
def mengchong_commands() -> Iterable[Command] | None:
    """Return subcommands the plugin adds to the ``mengchong`` command line."""


@hookspec
def mengchong_readiness(app: web.Application) -> Iterable[tuple[str, Any]] | None:
    """Return (name, coroutine function) pairs of extra backends /readyz should check."""


@hookspec
def mengchong_console_sections(app: web.Application) -> Iterable[Section] | None:
    """Return the plugin's pages of the operator console (:mod:`mengchong.backoffice`)."""


@hookspec
def mengchong_console_figures(app: web.Application) -> Iterable[Figure] | None:
    """Return the numbers the plugin adds to the console's dashboard (``mengchong.backoffice.Figure``)."""


@hookspec
def mengchong_console_user_panels(app: web.Application) -> Iterable[UserPanel] | None:
    """Return the tables the plugin adds to a user's page of the console (``UserPanel``)."""
