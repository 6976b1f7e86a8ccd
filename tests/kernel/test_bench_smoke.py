"""``scripts/bench --smoke``: the benchmark runs end to end and reports every endpoint.

No thresholds: this only proves the bench still measures. It needs wrk (./scripts/test installs
it) and the local services; without wrk it is skipped, except under CI, where it fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support import AMQP_URL, IN_CI, PG_URL, REDIS_URL, require_service

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = [
    "GET /healthz",
    "GET /v1/users/profile",
    "GET /v1/users/pets",
    "GET /v1/pets/{id}",
    "POST /v1/pets/{id}/interact",
    "POST /v1/auth/wechat_login",
    "GET /v1/notifications/subscriptions",
    "baseline: bare healthz",
    "baseline: raw asyncpg",
    "baseline: raw asyncpg petting",
]


@pytest.mark.services
def test_bench_smoke_lists_every_endpoint() -> None:
    for name, url in (("PostgreSQL", PG_URL), ("Redis", REDIS_URL), ("RabbitMQ", AMQP_URL)):
        require_service(name, url)
    if shutil.which("wrk") is None:
        if IN_CI:
            pytest.fail("CI: wrk is not installed (./scripts/test installs it)", pytrace=False)
        pytest.skip("wrk is not installed: ./scripts/test installs it, or apt-get install wrk")
    done = subprocess.run(
        [str(ROOT / "scripts/bench"), "--smoke", "--duration", "1", "--runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout[done.stdout.index("endpoint ") :]
    for endpoint in ENDPOINTS:
        assert any(line.startswith(endpoint + " ") for line in table.splitlines()), endpoint
    assert "POST /v1/pets/{id}/interact: " in table  # against the same statements done bare
    assert "server RSS after the runs:" in table
    assert "process start to first 200 on /healthz:" in table
