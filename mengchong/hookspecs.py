"""Every hook a Mengchong plugin may implement. pluggy project name: ``mengchong``.

Hooks are called with keyword arguments. A hook may return a coroutine where its docstring
says so; the kernel awaits it (see :func:`mengchong.plugin_manager.gather_hook`). A plugin implements
only the hooks it needs, with ``@mengchong.hookimpl``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from aiohttp import web
    from pydantic import BaseModel

    from mengchong.events import Event
    from mengchong.storage.database import ModelSet
    from mengchong.tasks import BackgroundTask

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
    """Return long-running background tasks (scheduled jobs, queue consumers) to supervise."""


@hookspec
def mengchong_event(app: web.Application, event: Event) -> Awaitable[None] | None:
    """React to a domain event published by any module; return None or a coroutine."""


@hookspec
def mengchong_readiness(app: web.Application) -> Iterable[tuple[str, Any]] | None:
    """Return (name, coroutine function) pairs of extra backends /readyz should check."""
