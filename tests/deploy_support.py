"""Shared by the deploy/ checks (tests/kernel/test_deploy_*.py): where the files are, reading
YAML, and the settings the app really reads, as `mengchong config --reference` prints them."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from mengchong.config import Settings
from mengchong.config_reference import reference_table
from mengchong.plugin_manager import build_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
CONFIG = ROOT / "config.toml"  # what the image bakes in as /app/config.toml
DOCKERFILE = (ROOT / "Dockerfile").read_text()

# The oldest Kubernetes we support and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
MANIFEST_FILES = sorted(path.name for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")
NAMESPACE = "mengchong"
CLUSTER_SCOPED = {"Namespace"}
POSTGRES_MAX_CONNECTIONS = 100  # PostgreSQL's default max_connections


# What an operator puts in place of the placeholders: the production checks must then pass.
REAL_SECRET = "0123456789abcdef" * 4
COMPOSE_DOTENV = {
    "POSTGRES_PASSWORD": "pg" + REAL_SECRET[:20],
    "RABBITMQ_PASSWORD": "mq" + REAL_SECRET[:20],
    "MENGCHONG_JWT_SECRET": REAL_SECRET,
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": REAL_SECRET[:32],
}


# --- Reading the files ----------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBERNETES / name).read_text()) if doc]


def all_objects() -> Iterator[dict[str, Any]]:
    for name in MANIFEST_FILES:
        yield from documents(name)


def the_one(kind: str) -> dict[str, Any]:
    found = [obj for obj in all_objects() if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/kubernetes, found {len(found)}"
    return found[0]


def pod_spec(kind: str) -> dict[str, Any]:
    return the_one(kind)["spec"]["template"]["spec"]


def the_container(kind: str) -> dict[str, Any]:
    containers = pod_spec(kind)["containers"]
    assert len(containers) == 1
    return containers[0]


def config_env() -> dict[str, str]:
    return the_one("ConfigMap")["data"]


def secret_env() -> dict[str, str]:
    return the_one("Secret")["stringData"]


def dockerfile_user() -> tuple[int, int]:
    match = re.search(r"^USER\s+(\d+):(\d+)\s*$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile: no numeric USER uid:gid"
    return int(match[1]), int(match[2])


def dockerfile_port() -> int:
    match = re.search(r"^EXPOSE\s+(\d+)\s*$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile: no EXPOSE"
    return int(match[1])


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return float(quantity.removesuffix(unit)) * factor
    raise AssertionError(f"write memory as Ki, Mi or Gi: {quantity}")


def millicores(quantity: str) -> float:
    return float(quantity.removesuffix("m")) if quantity.endswith("m") else float(quantity) * 1000


# --- Settings: the names `mengchong config --reference` prints ---------------------------


@functools.cache
def setting_variables() -> frozenset[str]:
    """Every MENGCHONG__SECTION__KEY the app reads: the kernel's, from the table `mengchong config
    --reference` prints, and every installed plugin's, from the same function given its model."""
    pm, _ = build_plugin_manager(Settings(), enable_all=True)
    plugins = dict(declared for declared in pm.hook.mengchong_settings() if declared is not None)
    tables = reference_table() + "\n" + reference_table(plugins)
    return frozenset(re.findall(r"`(MENGCHONG__[A-Z0-9_]+)`", tables))


def replace_placeholders(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value.replace("REPLACE_ME", REAL_SECRET) for name, value in environ.items()}
