"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mengchong.config import Settings, build_settings, deep_merge


def settings_from(overrides: dict[str, Any], **more: dict[str, Any]) -> Settings:
    """Settings from the built-in defaults plus test overrides (the environment is ignored)."""
    raw = {key: value for key, value in overrides.items() if key != "profile"}
    return build_settings(deep_merge(raw, more), "tests")


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (background work is asynchronous), failing after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any MENGCHONG setting, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENGCHONG")}
    env.update(variables)
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m mengchong ARGS`` in a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "mengchong", *args],
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        cwd=cwd,
        timeout=120,
    )
