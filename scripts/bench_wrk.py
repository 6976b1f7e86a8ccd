"""Driving wrk for scripts/bench: the Lua script that rotates tokens and pets, a warm-up and
the measured runs pinned to core 1, and reading wrk's report."""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Result:
    endpoint: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    baseline: str | None = None
    ratio: float | None = None
    runs: list[float] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lua_script(
    path_expr: str,
    method: str,
    body: str | None,
    auth: bool,
    data: dict[str, list[str]],
    tokens_key: str = "tokens",
) -> str:
    """A wrk script rotating through the seeded tokens (``data[tokens_key]``) and pets; wechat
    codes are new each request."""
    tokens = ",".join(f'"{t}"' for t in data[tokens_key])
    pets = ",".join(f'"{p}"' for p in data["pets"])
    run = uuid.uuid4().hex[:10]
    headers = '{["Content-Type"] = "application/json"'
    headers += ', ["Authorization"] = "Bearer " .. tokens[i]}' if auth else "}"
    return f"""local tokens = {{{tokens}}}
local pets = {{{pets}}}
local n = #tokens
local i = 0
local counter = 0
request = function()
  i = i % n + 1
  counter = counter + 1
  local code = "b{run}_" .. counter
  return wrk.format("{method}", {path_expr}, {headers}, {body or "nil"})
end
"""


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    """Requests/sec, p50 ms, p99 ms, non-2xx/3xx responses and socket errors from ``wrk --latency``."""

    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if not match:
            raise RuntimeError(f"wrk printed no {pct}% latency:\n{output}")
        return float(match.group(1)) * UNITS_MS[match.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rps:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    return (
        float(rps.group(1)),
        latency("50"),
        latency("99"),
        int(non2xx.group(1)) if non2xx else 0,
        socket_errors,
    )


def run_wrk(url: str, script: Path, seconds: float, connections: int) -> tuple[float, float, float, int, int]:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    done = subprocess.run([*command, "-s", str(script), url], capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


def profile(name: str, url: str, script: Path, args: argparse.Namespace, pid: int) -> None:
    """One more wrk run with ``py-spy record`` attached to ``pid``; collapsed stacks to ``--py-spy``."""
    output = args.py_spy / (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") + ".txt")
    seconds = max(1, int(args.duration))
    spy = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "500",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_wrk(url, script, seconds, args.connections)
    _, err = spy.communicate(timeout=seconds + 30)
    if spy.returncode != 0:
        raise RuntimeError(f"py-spy failed: {err.strip()}")
    print(f"  {'':32} profile: {output}", flush=True)


def measure(
    name: str,
    url: str,
    script: Path,
    args: argparse.Namespace,
    data: Any,
    pid: int | None = None,
    before_each: Callable[[], None] | None = None,
) -> Result:
    """A warm-up run, then ``--runs`` measured runs; the run with the median req/s is reported.
    ``before_each`` runs before every run (a check-in endpoint clears the day's check-ins).

    With ``--py-spy DIR`` and a ``pid``, a further run is profiled (never one that is measured)."""
    prepare = before_each or (lambda: None)
    prepare()
    run_wrk(url, script, min(args.duration, 5), args.connections)
    runs = []
    for _ in range(args.runs):
        prepare()
        runs.append(run_wrk(url, script, args.duration, args.connections))
    if args.py_spy is not None and pid is not None:
        prepare()
        profile(name, url, script, args, pid)
    median = statistics.median_low([r[0] for r in runs])
    chosen = next(r for r in runs if r[0] == median)
    if before_each is not None and any(r[3] for r in runs):
        # Each request is the next user's first of the day: a non-2xx means a run sent more
        # requests than there are users, and its req/s counts cheap 409s.
        print(f"  WARNING {name}: non-2xx answers; a run outlasted its users (raise --users)", flush=True)
    print(
        f"  {name:32} {chosen[0]:10.1f} req/s  (runs: {', '.join(f'{r[0]:.0f}' for r in runs)})", flush=True
    )
    return Result(name, *chosen, runs=[r[0] for r in runs])
