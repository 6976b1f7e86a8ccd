"""The places a plugin of this repository must be named, checked for every directory in plugins/:
what README "Writing a plugin" lists. A new plugin that misses one fails here, by name."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from mengchong.config import Settings
from mengchong.config_reference import reference_table

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(path.name for path in (ROOT / "plugins").iterdir() if (path / "__init__.py").exists())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def hook_result(plugin: str, hook: str):
    module = importlib.import_module(f"mengchong_plugins.{plugin}")
    function = getattr(module, hook, None)
    return function() if function is not None else None


def test_there_are_plugins_to_check():
    assert "pets" in PLUGINS


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugin_has_its_entry_point(plugin):
    entry_points = PYPROJECT["project"]["entry-points"]["mengchong.plugins"]
    group = '[project.entry-points."mengchong.plugins"]'
    expected = f"mengchong_plugins.{plugin}"
    assert entry_points.get(plugin) == expected, f'pyproject.toml: add {plugin} = "{expected}" to {group}'


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugin_is_a_listed_package(plugin):
    assert f"mengchong_plugins.{plugin}" in PYPROJECT["tool"]["setuptools"]["packages"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugin_has_its_readme_section_and_settings_reference(plugin):
    readme = (ROOT / "README.md").read_text()
    assert f"## The {plugin} plugin" in readme, f'README.md: add a "## The {plugin} plugin" section'
    declared = hook_result(plugin, "mengchong_settings")
    if declared is None:
        return
    section, model = declared
    start_marker, end_marker = f"<!-- {section}-reference:start -->\n", f"<!-- {section}-reference:end -->"
    where = f"between {start_marker.strip()} and {end_marker}"
    assert start_marker in readme, f"README.md: add the [{section}] settings table {where}"
    table = readme[readme.index(start_marker) + len(start_marker) : readme.index(end_marker)]
    assert table.strip() == reference_table({section: model}).strip(), (
        f"README.md: paste reference_table({{{section!r}: {model.__name__}}}) "
        f"(mengchong.config_reference) {where}"
    )


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugin_has_its_tests(plugin):
    tests = ROOT / "tests" / "plugins" / plugin
    assert any(tests.glob("test_*.py")), f"add tests/plugins/{plugin}/test_*.py"


def test_the_plugins_enabled_by_default_are_enabled_in_the_shipped_config():
    shipped = tomllib.loads((ROOT / "config.toml").read_text())
    assert shipped["plugins"]["enabled"] == Settings().plugins.enabled


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugins_models_have_a_migrations_package(plugin):
    model_set = hook_result(plugin, "mengchong_models")
    if model_set is None:
        return
    assert model_set.migrations, f"{plugin}: give its ModelSet a migrations package"
    importlib.import_module(model_set.migrations)  # `mengchong makemigrations <label>` writes it


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugins_routes_are_fuzzed(plugin):
    from test_contract_fuzz import FUZZ_CONFIG

    enabled = FUZZ_CONFIG["plugins"]["enabled"]
    assert plugin in enabled, f"tests/kernel/test_contract_fuzz.py: add {plugin!r} to FUZZ_CONFIG's plugins"
