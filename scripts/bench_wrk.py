"""Driving wrk for scripts/bench: the Lua script that rotates tokens and pets, a warm-up and
the measured runs pinned to core 1, and reading wrk's report."""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


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
    cpu_us_per_request: float | None = None
    """The server's CPU time (user + system) per answered request over the reported run: less
    moved by a busy machine than req/s, which also counts the time the server waited for a core."""


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


@dataclass
class Target:
    """One server's endpoint to measure: its wrk script, what runs before each of its runs (a
    check-in endpoint clears the day's check-ins) and the pid to profile, if any."""

    name: str
    url: str
    script: Path
    before_each: Callable[[], None] | None = None
    pid: int | None = None
    profile: bool = True
    """With ``--py-spy``: profile this target too."""


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None without a pid)."""
    if pid is None:
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Run = tuple[float, float, float, int, int, float | None]
"""req/s, p50 ms, p99 ms, non-2xx, socket errors, server CPU µs per request."""


def timed_run(target: Target, seconds: float, connections: int) -> Run:
    before = cpu_seconds(target.pid)
    rps, *rest = run_wrk(target.url, target.script, seconds, connections)
    after = cpu_seconds(target.pid)
    cpu = None if before is None or after is None or rps <= 0 else (after - before) / (rps * seconds) * 1e6
    return (rps, *rest, cpu)  # type: ignore[return-value]


def measure(targets: list[Target], args: argparse.Namespace) -> list[Result]:
    """A warm-up run of each target (as long as a measured one; none with ``--smoke``), then
    ``--runs`` rounds in which each target runs once in turn, so an endpoint and its baseline see
    the same moments of a noisy machine; for each, the run with the median req/s is reported.

    With ``--py-spy DIR``, a further run of each target with a ``pid`` is profiled (never one
    that is measured)."""
    for target in targets if not args.smoke else ():  # the smoke run measures nothing
        (target.before_each or (lambda: None))()
        # As long as a measured run: at 1,000 req/s that reaches each of 10,000 users once, so
        # what the product keeps per user (verified tokens, auth states, profiles) is warm.
        run_wrk(target.url, target.script, args.duration, args.connections)
    runs: list[list[Run]] = [[] for _ in targets]
    for _ in range(args.runs):
        for target, done in zip(targets, runs, strict=True):
            (target.before_each or (lambda: None))()
            done.append(timed_run(target, args.duration, args.connections))
    if args.py_spy is not None:
        for target in targets:
            if target.pid is not None and target.profile:
                (target.before_each or (lambda: None))()
                profile(target.name, target.url, target.script, args, target.pid)
    return [report(target, done) for target, done in zip(targets, runs, strict=True)]


def report(target: Target, runs: list[Run]) -> Result:
    median = statistics.median_low([r[0] for r in runs])
    chosen = next(r for r in runs if r[0] == median)
    if target.before_each is not None and any(r[3] for r in runs):
        # Each request is the next user's first of the day: a non-2xx means a run sent more
        # requests than there are users, and its req/s counts cheap 409s.
        print(
            f"  WARNING {target.name}: non-2xx answers; a run outlasted its users (raise --users)", flush=True
        )
    cpu = chosen[5]
    print(
        f"  {target.name:32} {chosen[0]:10.1f} req/s  (runs: {', '.join(f'{r[0]:.0f}' for r in runs)})"
        + (f"  {cpu:.0f} µs CPU/request" if cpu is not None else ""),
        flush=True,
    )
    return Result(target.name, *chosen[:5], runs=[r[0] for r in runs], cpu_us_per_request=cpu)
