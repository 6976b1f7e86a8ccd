"""deploy/compose.yaml, checked offline (no Docker engine): it runs the services profile (healthy
PostgreSQL, Redis and RabbitMQ, then `migrate` once, then `serve`), builds the repository's
Dockerfile, and every MENGCHONG__ variable it sets is a real setting whose value passes the
app's own validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from deploy_support import (
    COMPOSE_DOTENV,
    CONFIG,
    DEPLOY,
    ROOT,
    dockerfile_port,
    load_yaml,
    setting_variables,
)

from mengchong.config_loading import load_settings

# --- compose.yaml ---------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<operator>:[-?])(?P<default>[^}]*))?\}")


def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose.yaml")


def interpolate(text: str, dotenv: Mapping[str, str]) -> str:
    """What `docker compose` makes of ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def value(match: re.Match[str]) -> str:
        if match["name"] in dotenv:
            return dotenv[match["name"]]
        if match["operator"] == ":-":
            return match["default"]
        raise KeyError(f"compose.yaml needs {match['name']}")

    return INTERPOLATION.sub(value, text)


def compose_environment(service: str) -> dict[str, str]:
    return {name: str(value) for name, value in compose()["services"][service]["environment"].items()}


def test_compose_runs_the_services_profile() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "rabbitmq", "migrate", "app"}
    for backing in ("postgres", "redis", "rabbitmq"):
        assert services[backing]["healthcheck"]["test"], backing
        volume = services[backing]["volumes"][0].split(":")[0]
        assert volume in compose()["volumes"], backing


def test_compose_migrates_once_before_it_serves() -> None:
    services = compose()["services"]
    app = services["app"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert app["command"] == ["serve"]
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for backing in ("postgres", "redis", "rabbitmq"):
        assert app["depends_on"][backing] == {"condition": "service_healthy"}, backing
    assert app["ports"] == [f"{dockerfile_port()}:{dockerfile_port()}"]


def test_compose_builds_the_repositorys_dockerfile_for_both() -> None:
    services = compose()["services"]
    for name in ("migrate", "app"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
        assert services[name]["read_only"] is True
        assert services[name]["image"] == services["app"]["image"]
    assert services["app"]["volumes"] == ["app-data:/app/data"]


@pytest.mark.parametrize("service", ["migrate", "app"])
def test_every_compose_variable_is_a_real_setting(service: str) -> None:
    assert sorted(set(compose_environment(service)) - setting_variables()) == []


def test_compose_documents_every_variable_it_needs() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    header = text.split("\nname:", 1)[0]
    needed = {match["name"] for match in INTERPOLATION.finditer(text)}
    assert sorted(name for name in needed if name not in header) == []


def test_compose_settings_are_valid_and_point_at_its_services() -> None:
    environ = {name: interpolate(value, COMPOSE_DOTENV) for name, value in compose_environment("app").items()}
    settings = load_settings(str(CONFIG), environ=environ)
    services = compose()["services"]
    assert settings.app.env == "production"
    assert urlsplit(settings.database.url).hostname in services
    assert urlsplit(settings.cache.url).hostname in services
    assert urlsplit(settings.queue.url).hostname in services
    assert settings.files.root.startswith("/app/data/")
