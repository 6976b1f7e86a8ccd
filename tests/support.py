"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from mengchong.config import Settings, build_settings, deep_merge


def settings_from(overrides: dict[str, Any], **more: dict[str, Any]) -> Settings:
    """Settings from the built-in defaults plus test overrides (the environment is ignored)."""
    raw = {key: value for key, value in overrides.items() if key != "profile"}
    return build_settings(deep_merge(raw, more), "tests")
