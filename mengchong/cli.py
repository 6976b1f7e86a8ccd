"""``python -m mengchong`` / ``mengchong``: serve, migrate, makemigrations, plugins, routes, config.

A bad setting ends the process with one line naming the key (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence

from mengchong.config import ConfigError, Settings, load_settings
from mengchong.config_reference import reference_table
from mengchong.logs import configure_logging
from mengchong.storage import StartupError


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mengchong", description="Mengchong backend")
    parser.add_argument("--config", help="config file (default: $MENGCHONG_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    commands.add_parser("migrate", help="create or upgrade the database schema (safe to repeat)")
    make = commands.add_parser("makemigrations", help="write migrations for model changes (developers)")
    make.add_argument("labels", nargs="*", help="tortoise app labels (default: all)")
    make.add_argument("--name", help="migration name")
    commands.add_parser("plugins", help="list installed plugins, enabled or not, with their routes")
    commands.add_parser("routes", help="list the routes of the configured app")
    config = commands.add_parser("config", help="print the effective settings (secrets hidden)")
    config.add_argument("--reference", action="store_true", help="print every key as a Markdown table")
    return parser.parse_args(argv)


def migrate(settings: Settings) -> None:
    from mengchong.app import build_database, model_sets
    from mengchong.plugin_manager import build_plugin_manager

    pm, _ = build_plugin_manager(settings)
    database = build_database(settings, model_sets(pm))
    asyncio.run(database.migrate())
    print(f"schema up to date: {', '.join(s.label for s in database.model_sets)} on {database.dialect}")


def makemigrations(settings: Settings, labels: list[str], name: str | None) -> None:
    from tortoise.cli.cli import CLIContext
    from tortoise.cli.cli import makemigrations as tortoise_makemigrations

    from mengchong.app import build_database, model_sets
    from mengchong.plugin_manager import build_plugin_manager

    pm, _ = build_plugin_manager(settings, enable_all=True)
    database = build_database(settings, model_sets(pm))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(database.tortoise_config(), handle)
        handle.flush()
        asyncio.run(tortoise_makemigrations(CLIContext(None, handle.name), tuple(labels), False, name))


def list_plugins(settings: Settings) -> None:
    from mengchong.app import create_app
    from mengchong.keys import plugins_key

    app = create_app(settings, enable_all_plugins=True)
    for info in app[plugins_key]:
        state = "built-in" if info.builtin else ("enabled" if info.enabled else "disabled")
        print(f"{info.name}  [{state}]  {info.module}")
        for route in info.routes:
            print(f"    {route}")


def list_routes(settings: Settings) -> None:
    from mengchong.app import create_app
    from mengchong.http.routing import is_unmatched

    app = create_app(settings)
    for route in app.router.routes():
        if route.method != "HEAD" and not is_unmatched(route.resource):
            print(f"{route.method:7} {route.resource.canonical if route.resource else ''}")


def show_config(settings: Settings) -> None:
    data = settings.model_dump()
    data["auth"]["jwt_secret"] = "***" if settings.auth.jwt_secret else ""
    data["wechat"]["secret"] = "***" if settings.wechat.secret else ""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
        configure_logging(settings.app.log_level)
        if args.command == "serve":
            if args.migrate:
                migrate(settings)
            from mengchong.server import serve

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
    except ConfigError as exc:
        print(f"mengchong: config error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"mengchong: {exc}", file=sys.stderr)
        return 3
    return 0
