"""Faults injected while the server runs, on the services profile: a backend stopped and back, a
server process killed, two processes on one set of services.

Backends are reached through fault-injecting TCP proxies (``tests/fakes/tcp_proxy.py``): to the
app, a proxy in ``killed`` mode is a stopped server (connections reset, the port refusing) and
back in ``pass`` a restarted one, while the machine's shared services are never touched. Each
test says what it did and saw through ``fault_report``; the lines are printed at the end of the
run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

REPORTS: list[str] = []


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``fault_report(line)``: one line of what the test did and saw, for the run's summary."""

    def report(line: str) -> None:
        REPORTS.append(f"{request.node.name}: {line}")

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("faults injected, and what was seen")
        for line in REPORTS:
            terminalreporter.line(line)
