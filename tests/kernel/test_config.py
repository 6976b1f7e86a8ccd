"""Settings: the shipped file, environment overrides, and one clear line for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from mengchong.config import ConfigError, Settings
from mengchong.config_loading import build_settings, env_overrides, load_settings
from mengchong.plugin_sections import validate_plugin_sections
from support import run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_toml_equals_the_built_in_defaults():
    from_file = load_settings(str(ROOT / "config.toml"), environ={})
    assert from_file.model_dump(exclude={"source"}) == Settings().model_dump(exclude={"source"})


def test_shipped_config_runs_with_no_services():
    settings = load_settings(str(ROOT / "config.toml"), environ={})
    assert settings.database.url.startswith("sqlite://")
    assert (settings.cache.url, settings.queue.url, settings.documents.url) == ("", "", "")
    assert settings.wechat.mode == "mock"


def test_environment_overrides_every_key_and_parses_toml_values():
    environ = {
        "MENGCHONG__DATABASE__URL": "postgres://u@h:5432/db",
        "MENGCHONG__SERVER__PORT": "9000",
        "MENGCHONG__SERVER__ACCESS_LOG": "false",
        "MENGCHONG__AUTH__ADMIN_OPENIDS": '["a", "b"]',
        "MENGCHONG__WECHAT__APPID": "wx123",
        "UNRELATED": "x",
    }
    settings = load_settings(str(ROOT / "config.toml"), environ=environ)
    assert settings.database.url == "postgres://u@h:5432/db"
    assert settings.server.port == 9000
    assert settings.server.access_log is False
    assert settings.auth.admin_openids == ["a", "b"]
    assert settings.wechat.appid == "wx123"


def test_config_file_is_chosen_by_argument_then_environment(tmp_path):
    chosen = tmp_path / "chosen.toml"
    chosen.write_text("[server]\nport = 1234\n")
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 4321\n")
    assert load_settings(str(chosen), environ={"MENGCHONG_CONFIG": str(other)}).server.port == 1234
    assert load_settings(None, environ={"MENGCHONG_CONFIG": str(other)}).server.port == 4321


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": 70000}}, "server.port"),
        ({"server": {"hots": "x"}}, "server.hots: unknown key"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"cache": {"url": "memcached://x"}}, "cache.url"),
        ({"queue": {"url": "kafka://x"}}, "queue.url"),
        ({"app": {"timezone": "Mars/Olympus"}}, "app.timezone"),
        ({"app": {"env": "staging"}}, "app.env"),
        ({"plugins": {"enabled": "pets"}}, "plugins.enabled"),
        ({"server": 5}, "server"),
    ],
)
def test_bad_values_name_the_key(raw, names):
    with pytest.raises(ConfigError) as error:
        build_settings(raw, "test")
    assert names in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({}, "auth.jwt_secret"),
        ({"auth": {"jwt_secret": "short"}}, "auth.jwt_secret"),
        ({"auth": {"jwt_secret": "x" * 40}}, "wechat.mode"),
        ({"auth": {"jwt_secret": "x" * 40}, "wechat": {"mode": "live"}}, "wechat.appid"),
    ],
)
def test_production_refuses_unsafe_settings(raw, key):
    raw = {"app": {"env": "production"}, **raw}
    with pytest.raises(ConfigError, match=key):
        build_settings(raw, "test")


def test_production_with_real_secrets_starts():
    settings = build_settings(
        {
            "app": {"env": "production"},
            "auth": {"jwt_secret": "s" * 48},
            "wechat": {"mode": "live", "appid": "wx1", "secret": "sec"},
        },
        "test",
    )
    assert settings.app.env == "production"


def test_malformed_env_variable_names_are_refused():
    with pytest.raises(ConfigError, match="MENGCHONG__PORT"):
        env_overrides({"MENGCHONG__PORT": "1"})


class PetsSection(BaseModel):
    max_pets: int = 3


def test_plugin_sections_are_validated_by_their_plugin_schema():
    settings = build_settings({"pets": {"max_pets": 5}}, "test")
    assert validate_plugin_sections(settings, {"pets": PetsSection})["pets"].max_pets == 5
    bad = build_settings({"pets": {"max_pets": "many"}}, "test")
    with pytest.raises(ConfigError, match=r"pets\.max_pets"):
        validate_plugin_sections(bad, {"pets": PetsSection})


def test_a_section_no_plugin_claims_is_an_error():
    settings = build_settings({"petz": {"x": 1}}, "test")
    with pytest.raises(ConfigError, match="petz: unknown section") as error:
        validate_plugin_sections(settings, {"pets": PetsSection}, disabled={"mall"})
    assert "known: app, auth, cache," in str(error.value)
    assert ", mall, " in str(error.value)
    assert ", pets, " in str(error.value)


def test_a_disabled_plugins_section_is_accepted_unread():
    settings = build_settings({"pets": {"max_pets": "many"}, "mall": {"x": 1}}, "test")
    assert validate_plugin_sections(settings, {}, disabled={"pets", "mall"}) == {}
    with pytest.raises(ConfigError, match=r"pets\.max_pets"):  # validated once enabled
        validate_plugin_sections(settings, {"pets": PetsSection}, disabled={"mall"})


@pytest.mark.parametrize(
    ("toml", "env", "expected"),
    [
        ('[server]\nport = "x"\n', {}, "server.port"),
        ("[server\nport = 1\n", {}, "not valid TOML"),
        ("", {"MENGCHONG__APP__ENV": "production"}, "auth.jwt_secret"),
        ('[plugins]\nenabled = ["nope"]\n', {}, "unknown plugin 'nope'"),
        ("[nonsense]\nx = 1\n", {}, "nonsense: unknown section"),
    ],
)
def test_the_cli_stops_with_one_clear_line(tmp_path, toml, env, expected):
    config = tmp_path / "config.toml"
    config.write_text(toml)
    result = run_cli("--config", str(config), "routes", cwd=ROOT, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mengchong: config error: ")
    assert expected in lines[0]


def test_the_cli_reports_a_missing_config_file(tmp_path):
    result = run_cli("--config", str(tmp_path / "absent.toml"), "config", cwd=ROOT)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_the_cli_prints_effective_settings_without_secrets():
    secrets = {
        "MENGCHONG__AUTH__JWT_SECRET": "topsecret-value",
        "MENGCHONG__AUTH__JWT_PREVIOUS_KEYS": '{old = "an-older-secret-value-kept-for-a-while"}',
        "MENGCHONG__WECHAT__SECRET": "wechat-secret-value",
        "MENGCHONG__DATABASE__URL": "postgres://app:db-password-value@db:5432/mengchong",
        "MENGCHONG__CACHE__URL": "redis://:redis-password-value@cache:6379/0",
        "MENGCHONG__QUEUE__URL": "amqp://app:mq-password-value@mq:5672/",
    }
    result = run_cli("config", cwd=ROOT, env=secrets)
    assert result.returncode == 0, result.stderr
    for value in (
        "topsecret-value",
        "older-secret",
        "wechat-secret",
        "db-password",
        "redis-password",
        "mq-password",
    ):
        assert value not in result.stdout, value
    assert '"jwt_secret": "***"' in result.stdout
    assert "postgres://app:***@db:5432/mengchong" in result.stdout
    assert '"old": "***"' in result.stdout
