"""The plugin system: a plugin registered only through ``pm.register`` or only through its entry
point adds a route, a model, a task, an event handler and a settings section, read back typed;
disabled plugins add nothing and their sections are kept unread; the CLI lists what is installed."""

from __future__ import annotations

import pytest

from mengchong import plugin_settings
from mengchong.app import create_app
from mengchong.config import ConfigError
from mengchong.keys import database_key, plugin_settings_key, plugins_key, settings_key
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


def test_plugin_settings_hands_back_the_plugins_own_model(example_plugin_path, tmp_path):
    import mengchong_example as example

    db = {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}
    settings = settings_from(db, plugins={"enabled": []}, example={"greeting": "salut"})
    app = create_app(settings, [("example", example)])  # an extra counts as installed and enabled
    typed = plugin_settings(app, example.ExampleSettings)
    assert type(typed) is example.ExampleSettings
    assert typed.greeting == "salut"


def test_plugin_settings_of_a_model_no_enabled_plugin_registered_is_a_lookup_error(
    example_plugin_path, tmp_path
):
    import mengchong_example as example

    app = create_app(
        settings_from({"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}, plugins={"enabled": []})
    )
    with pytest.raises(
        LookupError, match=r"mengchong_example\.ExampleSettings is not the settings model of an"
    ):
        plugin_settings(app, example.ExampleSettings)


async def test_a_disabled_plugins_section_is_kept_and_not_validated(
    make_client, example_plugin_path, tmp_path
):
    db = {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}
    not_valid = {"greeting": ["not", "text"]}  # refused were the plugin enabled
    settings = settings_from(db, plugins={"enabled": []}, example=not_valid)
    client = await make_client(settings)  # created and started
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/v1/example/greeting")).status == 404
    app = client.server.app
    assert "example" not in app[plugin_settings_key]
    assert app[settings_key].plugin_sections["example"] == not_valid  # kept as written

    config = tmp_path / "config.toml"
    config.write_text('[plugins]\nenabled = []\n[example]\ngreeting = "kept"\n')
    result = run_cli("--config", str(config), "config", cwd=tmp_path, env={"PYTHONPATH": example_plugin_path})
    assert result.returncode == 0, result.stderr
    assert '"greeting": "kept"' in result.stdout
    result = run_cli("--config", str(config), "routes", cwd=tmp_path, env={"PYTHONPATH": example_plugin_path})
    assert result.returncode == 0, result.stderr
    assert "/v1/example" not in result.stdout


def test_a_section_of_no_installed_plugin_names_it_and_the_known_ones(example_plugin_path, tmp_path):
    db = {"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}
    with pytest.raises(
        ConfigError, match=r"^exampel: unknown section \(no such setting or plugin; known: "
    ) as error:
        create_app(settings_from(db, plugins={"enabled": []}, exampel={"greeting": "typo"}))
    known = str(error.value).split("known: ", 1)[1]
    assert {"example", "pets", "server", "database"} <= set(known.rstrip(")").split(", "))
