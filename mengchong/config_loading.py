"""Reading the settings: the config file chosen by ``--config``, ``MENGCHONG_CONFIG`` or
``./config.toml``, then ``MENGCHONG__SECTION__KEY`` environment variables (TOML-parsed), then
explicit overrides, validated into :class:`mengchong.config.Settings`; every failure a
:class:`mengchong.config.ConfigError` naming the key."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mengchong.config import ENV_PREFIX, KERNEL_SECTIONS, ConfigError, Settings

CONFIG_ENV = "MENGCHONG_CONFIG"
DEFAULT_CONFIG_FILE = "config.toml"


def parse_env_value(raw: str) -> Any:
    """A TOML value when the text is one (``5``, ``true``, ``["a"]``), else the text itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict from MENGCHONG__SECTION__KEY variables (keys lower-cased)."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if len(path) < 2 or not all(path):
            raise ConfigError(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: conflicts with another variable")
            node = child
        node[path[-1]] = parse_env_value(raw)
    return tree


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_config_path(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"] if part not in ("plugin_sections",))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    if not key and not prefix:  # a whole-settings rule: its message names its keys
        return message + suffix
    if not key:  # a whole-section rule: the section, then its message naming its keys
        return f"{prefix.rstrip('.')}: {message}" + suffix
    return f"{prefix}{key}: {message}" + suffix


def build_settings(raw: Mapping[str, Any], source: str) -> Settings:
    """Validate a raw settings tree; sections that are not the kernel's are kept for plugins."""
    kernel = {key: value for key, value in raw.items() if key in KERNEL_SECTIONS}
    plugin_sections: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        if key in KERNEL_SECTIONS:
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a [section], got a {type(value).__name__}")
        plugin_sections[key] = value
    try:
        return Settings(**kernel, plugin_sections=plugin_sections, source=source)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def load_settings(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the config file (if any), apply environment then explicit overrides, validate."""
    environ = os.environ if environ is None else environ
    config_path = resolve_config_path(path, environ)
    raw: dict[str, Any] = read_toml(config_path) if config_path else {}
    raw = deep_merge(raw, env_overrides(environ))
    if overrides:
        raw = deep_merge(raw, overrides)
    return build_settings(raw, str(config_path) if config_path else "built-in defaults")
