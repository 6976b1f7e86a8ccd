"""Plugin commands: ``mengchong --help`` lists the enabled plugins' commands beside the kernel's, a
command runs in an app started without serving (storage and startup code, no consumers, tasks or
HTTP server) and shuts it down even when it fails, and a clashing name is a config error."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import web

from mengchong import hookimpl
from mengchong.accounts.models import User
from mengchong.app import create_app
from mengchong.cli import KERNEL_COMMANDS
from mengchong.commands import Command, plugin_commands, run_command
from mengchong.config import ConfigError
from mengchong.keys import database_key, tasks_key
from mengchong.plugin_manager import build_plugin_manager
from support import run_cli, settings_from


def write_config(path: Path, tree: dict[str, Any]) -> str:
    """A config.toml of [section] tables of plain values (a JSON scalar or list is TOML too)."""
    lines: list[str] = []
    for section, values in tree.items():
        if section == "profile":
            continue
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n")
    return str(path)


class Recorder:
    """A throwaway plugin: one command, and a note of every startup step the kernel takes for it."""

    def __init__(self, command: str = "record", status: int | None = 5) -> None:
        self.command = command
        self.status = status
        self.steps: list[str] = []
        self.users_seen: int | None = None
        self.tasks_running: list[str] | None = None

    @hookimpl
    def mengchong_cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        async def ctx() -> AsyncIterator[None]:
            self.steps.append("startup")
            yield
            self.steps.append("cleanup")

        return ctx()

    @hookimpl
    def mengchong_consumers(self, app: web.Application) -> Iterable[Any]:
        self.steps.append("consumers")
        return []

    @hookimpl
    def mengchong_tasks(self, app: web.Application) -> Iterable[Any]:
        self.steps.append("tasks")
        return []

    @hookimpl
    def mengchong_commands(self) -> Iterable[Command]:
        return [Command(self.command, "record what the command sees", self.run)]

    async def run(self, app: web.Application, args: argparse.Namespace) -> int | None:
        self.steps.append("run")
        self.users_seen = await User.all().count()  # needs the storage open and its context active
        self.tasks_running = app[tasks_key].names
        return self.status


def test_help_lists_the_commands_of_enabled_plugins_only(example_plugin_path, tmp_path):
    enabled = write_config(tmp_path / "on.toml", {"plugins": {"enabled": ["example"]}})
    result = run_cli("--config", enabled, "--help", cwd=tmp_path, env={"PYTHONPATH": example_plugin_path})
    assert result.returncode == 0, result.stderr
    assert "example-note" in result.stdout
    assert "write a note (example plugin)" in result.stdout
    assert all(name in result.stdout for name in KERNEL_COMMANDS)

    disabled = write_config(tmp_path / "off.toml", {"plugins": {"enabled": []}})
    result = run_cli("--config", disabled, "--help", cwd=tmp_path, env={"PYTHONPATH": example_plugin_path})
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "example-note" not in result.stdout


def test_without_settings_help_still_works_and_a_command_reports_the_config_error(
    example_plugin_path, tmp_path
):
    bad = write_config(tmp_path / "bad.toml", {"plugins": {"enabled": ["example", "nope"]}})
    env = {"PYTHONPATH": example_plugin_path}
    result = run_cli("--config", bad, "--help", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "migrate" in result.stdout
    assert "example-note" not in result.stdout

    result = run_cli("--config", bad, "example-note", "hi", cwd=tmp_path, env=env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()  # one line, naming the bad plugin and the known ones
    assert line.startswith("mengchong: config error: plugins.enabled: unknown plugin 'nope' (available: ")
    assert "example" in line


def test_a_plugin_command_writes_to_the_database(profile, example_plugin_path, tmp_path):
    tree = {**profile, "plugins": {"enabled": ["example"]}, "example": {"greeting": "你好"}}
    config = write_config(tmp_path / "config.toml", tree)
    env = {"PYTHONPATH": example_plugin_path}
    migrated = run_cli("--config", config, "migrate", cwd=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr

    first = run_cli("--config", config, "example-note", "first", "--stars", "2", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    # the plugin's startup code ran, its typed settings were read, the row was written
    assert first.stdout.splitlines() == ["你好: note 1 'first', 1 in all", "lifecycle: ['started']"]

    second = run_cli("--config", config, "example-note", "second", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0] == "你好: note 2 'second', 2 in all"


def test_a_backend_down_stops_a_command_with_one_line(example_plugin_path, tmp_path):
    tree = {
        "database": {"url": f"sqlite://{tmp_path}/db.sqlite3"},
        "queue": {"url": "amqp://guest:guest@127.0.0.1:1/"},
        "plugins": {"enabled": ["example"]},
    }
    config = write_config(tmp_path / "config.toml", tree)
    env = {"PYTHONPATH": example_plugin_path}
    result = run_cli("--config", config, "example-note", "x", cwd=tmp_path, env=env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("mengchong: cannot open the queue (RabbitQueue)")


async def test_a_command_starts_storage_and_plugins_but_no_consumers_or_tasks(profile, tmp_path):
    recorder = Recorder()
    app = create_app(settings_from(profile, plugins={"enabled": []}), [("recorder", recorder)])
    await app[database_key].migrate()

    assert await run_command(app, "record", argparse.Namespace()) == 5
    assert recorder.steps == ["startup", "run", "cleanup"]
    assert recorder.users_seen == 0
    assert recorder.tasks_running == []


async def test_a_command_returning_none_exits_zero(tmp_path):
    recorder = Recorder(status=None)
    settings = settings_from(
        {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}, plugins={"enabled": []}
    )
    app = create_app(settings, [("recorder", recorder)])
    await app[database_key].migrate()
    assert await run_command(app, "record", argparse.Namespace()) == 0


async def connections_to(database_url: str) -> int:
    admin = await asyncpg.connect(database_url)
    try:
        name = urlsplit(database_url).path.lstrip("/")
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        return int(await admin.fetchval(query, name))
    finally:
        await admin.close()


async def test_a_failing_command_still_shuts_everything_down(profile, example_plugin_path):
    import mengchong_example as example

    app = create_app(settings_from(profile, plugins={"enabled": []}), [("example", example)])
    await app[database_key].migrate()
    with pytest.raises(RuntimeError, match="fails on purpose"):
        await run_command(app, "example-fail", argparse.Namespace())

    assert app[example.lifecycle] == ["started", "stopped"]
    with (
        app[database_key].activate(),
        pytest.raises(Exception, match="configuration not initialised"),
    ):
        await example.Note.all().count()  # the database is closed
    if profile["profile"] == "services":
        assert await connections_to(profile["database"]["url"]) == 0


def test_a_command_name_clashing_with_the_kernel_or_another_plugin_is_a_config_error():
    settings = settings_from({}, plugins={"enabled": []})
    pm, _ = build_plugin_manager(settings, [("shadow", Recorder("serve"))])
    with pytest.raises(
        ConfigError, match=r"plugin shadow: command 'serve' clashes with the kernel's 'serve'"
    ):
        plugin_commands(pm, reserved=KERNEL_COMMANDS)

    pm, _ = build_plugin_manager(settings, [("first", Recorder("twin")), ("second", Recorder("twin"))])
    with pytest.raises(ConfigError, match=r"command 'twin' clashes with plugin") as clash:
        plugin_commands(pm, reserved=KERNEL_COMMANDS)
    assert "first" in str(clash.value)
    assert "second" in str(clash.value)

    pm, _ = build_plugin_manager(settings, [("first", Recorder("one")), ("second", Recorder("two"))])
    assert sorted(plugin_commands(pm, reserved=KERNEL_COMMANDS)) == ["one", "two"]


def test_launch_pauses_the_collector_for_the_start_and_every_command_but_serve_resumes_it(
    monkeypatch, tmp_path, capsys
):
    """``mengchong`` starts with the collector paused (mengchong.launch); a command that is not
    ``serve`` runs with it on again (serve turns it on once listening: test_server.py)."""
    import gc
    import logging

    from mengchong import launch

    monkeypatch.chdir(tmp_path)  # no config.toml here: the embedded default
    monkeypatch.setattr("sys.argv", ["mengchong", "config"])
    seen = []
    monkeypatch.setattr("mengchong.cli.show_config", lambda settings: seen.append(gc.isenabled()))
    root, access = logging.getLogger(), logging.getLogger("aiohttp.access")
    handlers, level, access_disabled = root.handlers[:], root.level, access.disabled
    try:
        assert launch.main() == 0
        assert seen == [True]
    finally:
        gc.enable()
        # main() configured logging onto this test's captured stderr, closed after it
        root.handlers[:], root.level, access.disabled = handlers, level, access_disabled
