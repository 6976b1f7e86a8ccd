"""The command line of ``scripts/bench``: its options and which endpoints ``--only`` picks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = "The hot paths on the services profile under wrk, next to bare baselines."


def selected(name: str, only: list[str]) -> bool:
    return not only or any(part in name for part in only)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=DESCRIPTION)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per endpoint (median reported)")
    parser.add_argument(
        "--users", type=int, default=None, help="users the reads rotate through (default 10000, smoke 50)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also run the peers' Python ceiling beside /healthz and the profile read (needs the"
        " peer_bench database of ../shared/peers)",
    )
    parser.add_argument(
        "--checkin-users",
        type=int,
        default=None,
        help="users a check-in run goes through, each once (default 40000: a 10 s run below 4,000 req/s)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="50 users, 1-second runs, no warm-up: proves the bench runs, measures nothing",
    )
    parser.add_argument(
        "--only", action="append", default=[], help="only endpoints whose name contains this (repeatable)"
    )
    parser.add_argument(
        "--py-spy", type=Path, metavar="DIR", help="also profile each endpoint with py-spy into DIR"
    )
    args = parser.parse_args(argv)
    if args.users is None:
        args.users = 50 if args.smoke else 10_000
    if args.checkin_users is None:
        args.checkin_users = args.users if args.smoke else max(args.users, 40_000)
    if args.smoke and "--duration" not in (argv or sys.argv):
        args.duration = 1
    return args
