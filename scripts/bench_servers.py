"""Waiting for a server under ``scripts/bench`` to answer, and checking it serves what the
bench means to measure."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

from bench_endpoints import PAGE_PETS


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> float:
    """Poll ``url`` until it answers 200; the moment it did (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s:\n{log.read_text()[-3000:]}")


def check_list_page(url: str, token: str) -> None:
    """The list endpoint answers a full page for a list user, or the bench would measure less."""
    request = urllib.request.Request(
        f"{url}/v1/users/pets?limit={PAGE_PETS}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        items = json.loads(response.read())["data"]["items"]
    if len(items) != PAGE_PETS:
        raise RuntimeError(f"/v1/users/pets answered {len(items)} items for a list user, not {PAGE_PETS}")
