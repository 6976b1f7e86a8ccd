"""The console plugin: a small server-rendered back office at /admin for the people who run the
service (off by default: add "console" to ``plugins.enabled``). Operators are accounts of their
own (``mengchong console add-operator NAME``); the pages work over the same kernel services the
admin API uses, and every change they make is in the audit log. Its settings are the
``[console]`` section (:class:`mengchong_plugins.console.settings.ConsoleSettings`).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl
from mengchong.commands import Command
from mengchong.storage.database import ModelSet
from mengchong_plugins.console.operators import CONSOLE_COMMAND
from mengchong_plugins.console.pages import routes
from mengchong_plugins.console.settings import ConsoleSettings


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "console", ConsoleSettings


@hookimpl
def mengchong_models() -> ModelSet:
    return ModelSet("console", ["mengchong_plugins.console.models"], "mengchong_plugins.console.migrations")


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes


@hookimpl
def mengchong_commands() -> Iterable[Command]:
    return [CONSOLE_COMMAND]
