"""``scripts/bench_profile.py``: a py-spy raw profile summarised per function."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_profile import function_of, summarise

SERVE = "serve (mengchong/server.py:40)"
HANDLER = "handler (/x/site-packages/aiohttp/web_app.py:5)"
RAW = [
    f"{SERVE};{HANDLER};fetch (/x/site-packages/asyncpg/connection.py:9) 6",
    f"{SERVE};{HANDLER};dumps (json.py:3) 3",
    "serve (mengchong/server.py:41) 1",
    "not a stack line",
]


def test_lines_are_folded_into_functions_and_paths_shortened():
    assert function_of("fetch (/x/site-packages/asyncpg/connection.py:9)") == "fetch (asyncpg/connection.py)"
    assert function_of("dumps (json.py:3)") == "dumps (json.py)"


def test_inclusive_and_self_shares():
    total, inclusive, self_time = summarise(RAW, None)
    assert total == 10
    assert inclusive["serve (mengchong/server.py)"] == 10  # counted once per stack, not per line
    assert inclusive["handler (aiohttp/web_app.py)"] == 9
    assert self_time["fetch (asyncpg/connection.py)"] == 6
    assert self_time["serve (mengchong/server.py)"] == 1


def test_under_keeps_only_the_stacks_through_a_function():
    total, _, self_time = summarise(RAW, "dumps")
    assert total == 3
    assert dict(self_time) == {"dumps (json.py)": 3}
