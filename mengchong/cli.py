"""``python -m mengchong`` / ``mengchong``: serve, migrate, makemigrations, plugins, routes, config,
and the enabled plugins' own commands (:mod:`mengchong.commands`).

The plugins' commands depend on the settings, which ``--config`` chooses: the command line is read
twice, first for ``--config`` alone, then in full once the settings and plugins are known. When the
settings can't be loaded, ``--help`` still lists the kernel's commands, and any other command line
ends with the config error. A bad setting ends the process with one line naming the key (exit
status 2), a backend that can't be opened with one line naming it (exit status 3), never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence

from mengchong.app import build_database, create_app, model_sets
from mengchong.commands import Command, plugin_commands, run_command
from mengchong.config import ConfigError, Settings
from mengchong.config_loading import load_settings
from mengchong.config_reference import reference_table
from mengchong.http.routing import is_unmatched
from mengchong.keys import plugins_key
from mengchong.logs import configure_logging
from mengchong.plugin_manager import build_plugin_manager
from mengchong.server import serve
from mengchong.storage import StartupError

KERNEL_COMMANDS = ("serve", "migrate", "makemigrations", "plugins", "routes", "config")


def build_parser(added: Mapping[str, Command] | None = None) -> argparse.ArgumentParser:
    """The full command line: the kernel's commands, then the plugins' ``added`` ones (already
    checked for clashes by :func:`mengchong.commands.plugin_commands`)."""
    parser = argparse.ArgumentParser(prog="mengchong", description="Mengchong backend")
    parser.add_argument("--config", help="config file (default: $MENGCHONG_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP server")
    serve_parser.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    commands.add_parser("migrate", help="create or upgrade the database schema (safe to repeat)")
    make = commands.add_parser("makemigrations", help="write migrations for model changes (developers)")
    make.add_argument("labels", nargs="*", help="tortoise app labels (default: all)")
    make.add_argument("--name", help="migration name")
    commands.add_parser("plugins", help="list installed plugins, enabled or not, with their routes")
    commands.add_parser("routes", help="list the routes of the configured app")
    config = commands.add_parser("config", help="print the effective settings (secrets hidden)")
    config.add_argument("--reference", action="store_true", help="print every key as a Markdown table")
    for command in (added or {}).values():
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        if command.arguments is not None:
            command.arguments(sub)
    return parser


def config_path(argv: Sequence[str]) -> str | None:
    """``--config`` alone, read before the full command line can be built."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    known, _rest = early.parse_known_args(argv)
    return known.config


def wants_help(argv: Sequence[str]) -> bool:
    words = list(argv)
    if "--" in words:
        words = words[: words.index("--")]
    return any(word in ("-h", "--help") for word in words)


def migrate(settings: Settings) -> None:
    pm, _ = build_plugin_manager(settings)
    database = build_database(settings, model_sets(pm))
    asyncio.run(database.migrate())
    print(f"schema up to date: {', '.join(s.label for s in database.model_sets)} on {database.dialect}")


def makemigrations(settings: Settings, labels: list[str], name: str | None) -> None:
    # tortoise's command line (and what it imports) is needed by this command only: not
    # imported by `serve`, it leaves ~40 ms off every start.
    from tortoise.cli.cli import CLIContext
    from tortoise.cli.cli import makemigrations as tortoise_makemigrations

    pm, _ = build_plugin_manager(settings, enable_all=True)
    database = build_database(settings, model_sets(pm))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(database.tortoise_config(), handle)
        handle.flush()
        asyncio.run(tortoise_makemigrations(CLIContext(None, handle.name), tuple(labels), False, name))


def list_plugins(settings: Settings) -> None:
    app = create_app(settings, enable_all_plugins=True)
    for info in app[plugins_key]:
        state = "built-in" if info.builtin else ("enabled" if info.enabled else "disabled")
        print(f"{info.name}  [{state}]  {info.module}")
        for route in info.routes:
            print(f"    {route}")


def list_routes(settings: Settings) -> None:
    app = create_app(settings)
    for route in app.router.routes():
        if route.method != "HEAD" and not is_unmatched(route.resource):
            print(f"{route.method:7} {route.resource.canonical if route.resource else ''}")


def show_config(settings: Settings) -> None:
    from mengchong.settings_view import visible_settings

    print(json.dumps(visible_settings(settings), indent=2, ensure_ascii=False))


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Carry out the parsed command line; the exit status."""
    if args.command != "serve":
        gc.enable()  # paused by mengchong.launch for the start; serve resumes it once listening
    if args.command == "serve":
        if args.migrate:
            migrate(settings)
        serve(settings)
    elif args.command == "migrate":
        migrate(settings)
    elif args.command == "makemigrations":
        makemigrations(settings, args.labels, args.name)
    elif args.command == "plugins":
        list_plugins(settings)
    elif args.command == "routes":
        list_routes(settings)
    elif args.command == "config":
        if args.reference:
            print(reference_table())
        else:
            show_config(settings)
    else:
        return asyncio.run(run_command(create_app(settings), args.command, args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        settings = load_settings(config_path(argv))
        pm, _ = build_plugin_manager(settings)
        commands = plugin_commands(pm, reserved=KERNEL_COMMANDS)
    except ConfigError as exc:
        if wants_help(argv):
            build_parser().parse_args(argv)  # the kernel's commands only: prints the help, exits
        return config_error(exc)
    args = build_parser(commands).parse_args(argv)
    try:
        configure_logging(settings.app.log_level)
        return run(settings, args)
    except ConfigError as exc:
        return config_error(exc)
    except StartupError as exc:
        print(f"mengchong: {exc}", file=sys.stderr)
        return 3


def config_error(exc: ConfigError) -> int:
    print(f"mengchong: config error: {exc}", file=sys.stderr)
    return 2
