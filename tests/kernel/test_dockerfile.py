"""The Dockerfile: hadolint-clean, a pinned base, non-root, a working health check.

There is no Docker engine on the development or CI machines, so the image is not built here;
these tests check what can be checked without one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def hadolint_binary() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found: install the test extras (pip install -e '.[test]')", pytrace=False)
    return found


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every instruction, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def final_stage(parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(index for index, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    return parsed[last_from:]


@pytest.fixture(scope="module")
def parsed() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint_binary(), "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = (result.stdout + result.stderr).strip()
    print(findings)
    assert result.returncode == 0, f"hadolint:\n{findings}"


def test_every_base_image_is_pinned(parsed: list[tuple[str, str]]) -> None:
    stages: set[str] = set()
    bases = []
    for keyword, arguments in parsed:
        if keyword != "FROM":
            continue
        words = [word for word in arguments.split() if not word.startswith("--platform")]
        image = words[0]
        if image.lower() not in stages:  # not an earlier stage of this file
            bases.append(image)
            assert ":" in image.split("/")[-1] or "@sha256:" in image, f"{image}: no tag"
            tag = image.split("@")[0].rsplit(":", 1)[-1]
            assert tag != "latest", f"{image}: :latest moves"
            assert re.match(r"\d+\.\d+\.\d+", tag) or "@sha256:" in image, f"{image}: pin a full version"
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2].lower())
    assert bases, "no base image"
    assert all(re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base) for base in bases)


def test_the_image_runs_as_a_fixed_non_root_user(parsed: list[tuple[str, str]]) -> None:
    users = [arguments for keyword, arguments in final_stage(parsed) if keyword == "USER"]
    assert users, "the runtime stage never leaves root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), f"USER {users[-1]}: use a fixed numeric uid"
    assert int(user) >= 1000, f"USER {users[-1]}: not a system or root uid"
    if group:
        assert group.isdigit(), f"USER {users[-1]}: use a fixed numeric gid"
        assert int(group) != 0, f"USER {users[-1]}: group root"


def test_the_runtime_stage_is_configured_for_the_container(parsed: list[tuple[str, str]]) -> None:
    runtime = final_stage(parsed)
    joined = {keyword: [arguments for k, arguments in runtime if k == keyword] for keyword, _ in runtime}
    assert json.loads(joined["ENTRYPOINT"][-1]) == ["mengchong"]
    assert json.loads(joined["CMD"][-1]) == ["serve", "--migrate"]
    assert "8080" in joined["EXPOSE"][-1].split()
    assert json.loads(joined["VOLUME"][-1]) == ["/app/data"]
    assert joined["WORKDIR"][-1] == "/app"
    assert "MENGCHONG__SERVER__HOST=0.0.0.0" in " ".join(joined["ENV"])
    every_env = " ".join(arguments for keyword, arguments in parsed if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in every_env  # set in the base stage, inherited
    assert "PYTHONUNBUFFERED=1" in every_env
    assert any("config.toml" in arguments for keyword, arguments in runtime if keyword == "COPY")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mengchong"] == "mengchong.launch:main"


def healthcheck_command(parsed: list[tuple[str, str]]) -> list[str]:
    checks = [arguments for keyword, arguments in final_stage(parsed) if keyword == "HEALTHCHECK"]
    assert checks, "no HEALTHCHECK"
    _, _, command = checks[-1].partition("CMD ")
    return json.loads(command)


class Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/healthz" else 404
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def healthz_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_healthcheck_asks_healthz_and_fails_when_nothing_answers(
    parsed: list[tuple[str, str]], healthz_port: int
) -> None:
    command = healthcheck_command(parsed)
    assert command[0].endswith("python"), "slim has no curl or wget"
    assert any("/healthz" in part and "127.0.0.1" in part for part in command)
    local = [sys.executable, *command[1:]]

    def run(port: int) -> int:
        environ = {**os.environ, "MENGCHONG__SERVER__PORT": str(port)}
        return subprocess.run(local, env=environ, capture_output=True, timeout=30, check=False).returncode

    assert run(healthz_port) == 0
    assert run(unused_port()) != 0


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_build_context_holds_what_the_dockerfile_copies(parsed: list[tuple[str, str]]) -> None:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore is an allowlist: start with *"
    included = {pattern[1:].strip("/") for pattern in patterns if pattern.startswith("!")}
    for keyword, arguments in parsed:
        if keyword != "COPY" or "--from=" in arguments:
            continue
        *sources, _ = arguments.split()
        for source in sources:
            assert Path(source).parts[0] in included, f"COPY {source}: excluded by .dockerignore"
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
    assert not included & {".venv", ".git", "data", "tests", ".env"}
