"""``mengchong console add-operator NAME``: the password from standard input (or asked twice on a
terminal), refused when weak; a second account of one name refused; ``--reset`` sets a new
password and signs the operator out everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import clean_env

ENABLED = '["pets", "checkin", "mall", "leaderboard", "notifications", "console"]'


def console(tmp_path: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        MENGCHONG__DATABASE__URL=f"sqlite://{tmp_path}/db.sqlite3",
        MENGCHONG__FILES__ROOT=str(tmp_path / "files"),
        MENGCHONG__PLUGINS__ENABLED=ENABLED,
    )
    return subprocess.run(
        [sys.executable, "-m", "mengchong", "console", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def migrate(tmp_path: Path) -> None:
    env = clean_env(
        MENGCHONG__DATABASE__URL=f"sqlite://{tmp_path}/db.sqlite3", MENGCHONG__PLUGINS__ENABLED=ENABLED
    )
    done = subprocess.run(
        [sys.executable, "-m", "mengchong", "migrate"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr


def test_an_operator_is_added_once_with_a_strong_password_and_reset(tmp_path):
    migrate(tmp_path)
    weak = console(tmp_path, "add-operator", "ops", password="short")
    assert weak.returncode == 2
    assert "console: the password needs at least 12 characters" in weak.stderr
    made = console(tmp_path, "add-operator", "ops", password="correct horse battery staple")
    assert (made.returncode, made.stdout.strip()) == (0, "operator ops created")
    again = console(tmp_path, "add-operator", "ops", password="correct horse battery staple")
    assert again.returncode == 1
    assert "exists" in again.stderr
    reset = console(tmp_path, "add-operator", "ops", "--reset", password="another long passphrase")
    assert reset.returncode == 0, reset.stderr
    assert "signed out everywhere" in reset.stdout
    bad_name = console(tmp_path, "add-operator", "no spaces allowed", password="correct horse battery staple")
    assert bad_name.returncode == 2
