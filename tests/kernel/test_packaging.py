"""Things that rot silently: the package list in pyproject.toml and the README's config table
(each plugin's own table: tests/kernel/test_plugin_checklist.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mengchong.config_reference import reference_table

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_installed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("mengchong", "mengchong"), ("plugins", "mengchong_plugins")):
        for init in (ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *relative)))
    assert found == listed


def test_the_readme_config_reference_is_current():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- config-reference:start -->\n") + len("<!-- config-reference:start -->\n")
    end = readme.index("<!-- config-reference:end -->")
    assert readme[start:end].strip() == reference_table().strip(), "paste `mengchong config --reference`"


def test_the_wheel_carries_every_file_the_code_reads(tmp_path):
    """The image installs the wheel: a word list, a catalog, a template or a migration left out
    of it would fail only in production."""
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = tmp_path.glob("mengchong-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for top, name in (("mengchong", "mengchong"), ("plugins", "mengchong_plugins")):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                expected.add("/".join((name, *path.relative_to(ROOT / top).parts)))
    assert expected - inside == set()
