"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mengchong.config import Settings
from mengchong.config_loading import build_settings, deep_merge

PG_URL = os.environ.get("MENGCHONG_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MENGCHONG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("MENGCHONG_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
MONGO_URL = os.environ.get("MENGCHONG_TEST_MONGO_URL", "")
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}
"""CI=true (as CI sets it), or 1, yes, on: services tests fail instead of skipping."""


def require_service(name: str, url: str) -> None:
    """Fail (CI) or skip (elsewhere) unless the service's port accepts a connection."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is unreachable at {host}:{port} ({exc}); start it (see DEVELOPERS.md)"
        if IN_CI:
            pytest.fail(f"CI=true, services tests never skip: {message}", pytrace=False)
        pytest.skip(message)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def settings_from(overrides: dict[str, Any], **more: dict[str, Any]) -> Settings:
    """Settings from the built-in defaults plus test overrides (the environment is ignored)."""
    raw = {key: value for key, value in overrides.items() if key != "profile"}
    return build_settings(deep_merge(raw, more), "tests")


async def eventually(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (background work is asynchronous), failing after
    ``timeout``; a coroutine function (a database read) is awaited."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await _holds(predicate):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def _holds(predicate: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = predicate()
    return bool(await result) if inspect.isawaitable(result) else bool(result)


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


async def login(client: Any, code: str, **body: Any) -> dict[str, Any]:
    """Log in through the API (mock WeChat: openid "mock-" + code); returns the response data."""
    response = await client.post("/v1/auth/wechat_login", json={"code": code, **body})
    payload = await response.json()
    assert response.status == 200, payload
    return payload["data"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# The queue adapters of apps under test on RabbitMQ, by queue prefix: the `amqp_queues` fixture
# deletes every queue they declared (each plugin's and each event subscriber's, with their wait
# and dead queues), so a new queue needs no list of names kept here.
_app_queues: dict[str, list[Any]] = {}


def track_queues(app: Any) -> None:
    """Have the test's ``amqp_queues`` fixture delete the queues this app declares."""
    from mengchong.keys import queue_key, settings_key

    queue = app[settings_key].queue
    if queue.url:
        _app_queues.setdefault(queue.prefix, []).append(app[queue_key])


def declared_queues(prefix: str) -> set[str]:
    """Real names of the queues declared by the tracked apps with this prefix (forgets them)."""
    return {name for queue in _app_queues.pop(prefix, []) for name in queue.declared_queue_names}


@functools.cache
def default_queues() -> tuple[str, ...]:
    """Logical names of the queues an app with every installed plugin consumes: what a server run
    in a subprocess (out of reach of `track_queues`) may have declared."""
    from mengchong.app import create_app, queue_consumers
    from mengchong.plugin_manager import discover_entry_points

    installed = sorted(discover_entry_points())
    sections: dict[str, Any] = {}
    if "notifications" in installed:  # its subscribers exist only for kinds with a template id
        from mengchong_plugins.notifications.settings import KINDS

        sections["notifications"] = {"templates": {kind: {"template_id": f"t-{kind}"} for kind in KINDS}}
    settings = settings_from({}, plugins={"enabled": installed}, **sections)
    return tuple(consumer.queue for consumer in queue_consumers(create_app(settings)))
