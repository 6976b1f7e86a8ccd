"""Plugin commands: subcommands a plugin adds to ``mengchong`` through ``mengchong_commands``.

A command runs in a started app without serving (:func:`mengchong.app.started`): storage open,
every plugin's startup code run, the database context active; no HTTP server, queue consumers or
background tasks. Everything started is shut down in reverse when it ends, also when it raises.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import pluggy
from aiohttp import web

from mengchong.app import started
from mengchong.config import ConfigError
from mengchong.keys import database_key, plugin_manager_key
from mengchong.plugin_manager import calls_by_plugin


@dataclass(frozen=True)
class Command:
    """``mengchong NAME``: ``arguments`` adds the subcommand's own arguments to its parser; ``run``
    returns the exit status (None: 0)."""

    name: str
    help: str
    run: Callable[[web.Application, argparse.Namespace], Awaitable[int | None]]
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


def plugin_commands(pm: pluggy.PluginManager, reserved: Collection[str] = ()) -> dict[str, Command]:
    """Every registered plugin's commands by name; a name taken by a ``reserved`` (kernel) command
    or by another plugin's command is a ConfigError naming both."""
    commands: dict[str, Command] = {}
    owners: dict[str, str] = {}
    for plugin, returned in calls_by_plugin(pm, "mengchong_commands"):
        for command in returned:
            if command.name in reserved:
                raise ConfigError(
                    f"plugin {plugin}: command {command.name!r} clashes with the kernel's {command.name!r}"
                )
            if command.name in owners:
                raise ConfigError(
                    f"plugin {plugin}: command {command.name!r} clashes with plugin {owners[command.name]}'s"
                )
            commands[command.name] = command
            owners[command.name] = plugin
    return commands


async def run_command(app: web.Application, name: str, args: argparse.Namespace) -> int:
    """Start ``app`` without serving, run its plugin command ``name``, shut the app down.

    A backend that can't be opened raises :class:`mengchong.storage.StartupError`.
    """
    command = plugin_commands(app[plugin_manager_key])[name]
    async with started(app):
        with app[database_key].activate():
            status = await command.run(app, args)
    return status or 0
