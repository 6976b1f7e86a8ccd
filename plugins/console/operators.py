"""``mengchong console add-operator NAME``: create an operator account (the password is asked
twice on a terminal, or read from the first line of standard input), or give an existing one a
new password with ``--reset`` (which also lifts a lockout and signs it out everywhere)."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import UTC, datetime

from aiohttp import web

from mengchong.commands import Command
from mengchong_plugins.console.models import Operator, OperatorSession
from mengchong_plugins.console.passwords import check_strength, hash_password

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{3,64}")


def console_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add-operator", help="create an operator account (or --reset its password)")
    add.add_argument("name", help="the operator's username: 3-64 letters, digits or _ . @ -")
    add.add_argument("--reset", action="store_true", help="give an existing operator a new password")


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


async def run_console(app: web.Application, args: argparse.Namespace) -> int:
    name: str = args.name
    if not USERNAME.fullmatch(name):
        print(f"console: {name!r} is not a username (3-64 letters, digits or _ . @ -)", file=sys.stderr)
        return 2
    existing = await Operator.get_or_none(username=name)
    if existing is not None and not args.reset:
        print(f"console: operator {name!r} exists (--reset gives it a new password)", file=sys.stderr)
        return 1
    if existing is None and args.reset:
        print(f"console: there is no operator {name!r}", file=sys.stderr)
        return 1
    try:
        password = read_password()
    except ValueError as exc:
        print(f"console: {exc}", file=sys.stderr)
        return 2
    if (why := check_strength(password)) is not None:
        print(f"console: the password needs {why}", file=sys.stderr)
        return 2
    hashed = await hash_password(password)
    if existing is None:
        await Operator.create(username=name, password_hash=hashed, created_at=datetime.now(UTC))
        print(f"operator {name} created")
    else:
        await Operator.filter(id=existing.id).update(password_hash=hashed, failed_logins=0, locked_until=None)
        await OperatorSession.filter(operator_id=existing.id).delete()
        print(f"operator {name}: new password set, signed out everywhere")
    return 0


CONSOLE_COMMAND = Command(
    "console",
    "the operator console: `console add-operator NAME` creates an operator account",
    run_console,
    console_arguments,
)
