"""The plugin system: a plugin registered only through ``pm.register`` or only through its entry
point adds a route, a model, a task, an event handler and a settings section; disabled plugins
add nothing; the CLI lists what is installed."""

from __future__ import annotations

import pytest

from mengchong.app import create_app
from mengchong.config import ConfigError
from mengchong.keys import database_key, plugins_key
from support import eventually, run_cli, settings_from


async def test_a_plugin_registered_with_pm_register_adds_route_model_task_and_handler(
    profile, make_client, example_plugin_path
):
    import mengchong_example as example

    client = await make_client(settings_from(profile), [("example", example)])
    app = client.server.app
    assert app[example.lifecycle] == ["started"]

    response = await client.post("/v1/example/notes", json={"text": "hello"})
    assert response.status == 201
    note_id = (await response.json())["data"]["id"]
    with app[database_key].activate():
        assert await example.Note.get(id=note_id)  # the model's table exists and holds the row

    await eventually(lambda: any(e.payload == {"note_id": note_id} for e in app[example.seen_events]))
    await eventually(lambda: 1 in app[example.task_ticks])  # the task runs and sees the table

    assert (await (await client.get("/v1/example/greeting")).json())["data"] == {"greeting": "hello"}
    await client.close()
    assert app[example.lifecycle] == ["started", "stopped"]


async def test_a_plugin_found_only_through_its_entry_point(profile, make_client, example_plugin_path):
    client = await make_client(settings_from(profile, plugins={"enabled": ["example"]}))
    assert (await client.post("/v1/example/notes", json={"text": "via entry point"})).status == 201
    infos = {info.name: info for info in client.server.app[plugins_key]}
    assert infos["example"].enabled
    assert not infos["example"].builtin
    assert "POST /v1/example/notes" in infos["example"].routes


async def test_with_every_plugin_off_the_server_still_starts(make_client, example_plugin_path, tmp_path):
    settings = settings_from(
        {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}, plugins={"enabled": []}
    )
    client = await make_client(settings)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    assert (await client.post("/v1/example/notes", json={"text": "x"})).status == 404
    infos = {info.name: info for info in client.server.app[plugins_key]}
    assert infos["example"].enabled is False


async def test_a_plugin_section_is_read_and_validated(make_client, example_plugin_path, tmp_path):
    db = {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}
    settings = settings_from(db, plugins={"enabled": ["example"]}, example={"greeting": "你好"})
    client = await make_client(settings)
    assert (await (await client.get("/v1/example/greeting")).json())["data"] == {"greeting": "你好"}

    bad = settings_from(db, plugins={"enabled": ["example"]}, example={"greeting": ["not", "text"]})
    with pytest.raises(ConfigError, match=r"example\.greeting"):
        create_app(bad)


def test_an_unknown_plugin_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown plugin 'nope'"):
        create_app(settings_from({}, plugins={"enabled": ["nope"]}))


def test_the_cli_lists_installed_plugins_with_their_routes(example_plugin_path, tmp_path):
    result = run_cli("plugins", cwd=tmp_path, env={"PYTHONPATH": example_plugin_path})
    assert result.returncode == 0, result.stderr
    assert "example  [disabled]  mengchong_example" in result.stdout
    assert "POST /v1/example/notes" in result.stdout
    assert "mengchong.http.health  [built-in]" in result.stdout
    assert "GET /healthz" in result.stdout
