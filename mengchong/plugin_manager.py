"""Plugin discovery and the plugin manager.

Built-in behaviour is itself a list of default plugins registered like any other (health
checks, the OpenAPI document, the event relay); domain plugins come from the entry point
group ``mengchong.plugins`` and are registered only when ``[plugins] enabled`` names them.
The manager is built per app by :func:`build_plugin_manager`, never a module global.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from pluggy import HookImpl

from mengchong import hookspecs
from mengchong.config import ConfigError, Settings

ENTRY_POINT_GROUP = "mengchong.plugins"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "mengchong.http.health",
    "mengchong.accounts.plugin",
    "mengchong.economy.plugin",
    "mengchong.events.plugin",
)


@dataclass
class PluginInfo:
    """What ``mengchong plugins`` and /readyz tell about one plugin."""

    name: str
    module: str
    enabled: bool
    builtin: bool
    routes: list[str] = field(default_factory=list)


def discover_entry_points() -> dict[str, EntryPoint]:
    """Every installed plugin, by entry point name."""
    return dict(_entry_points_on(tuple(sys.path)))


@functools.lru_cache(maxsize=8)
def _entry_points_on(path: tuple[str, ...]) -> dict[str, EntryPoint]:
    # Scanning every distribution's metadata was a twentieth of an app's creation; what is
    # installed changes with sys.path (a test putting a plugin on it), so that is the key.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def build_plugin_manager(
    settings: Settings,
    extra_plugins: Iterable[tuple[str, object]] = (),
    *,
    enable_all: bool = False,
) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """A fresh manager with the default plugins, the enabled entry-point plugins and any extras.

    ``extra_plugins`` are (name, plugin object) pairs registered as enabled; tests and embedders
    use it. ``enable_all`` registers every discovered plugin (for ``mengchong plugins``).
    """
    pm = pluggy.PluginManager("mengchong")
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        infos.append(PluginInfo(module_name, module_name, enabled=True, builtin=True))

    discovered = discover_entry_points()
    extras = list(extra_plugins)
    known = set(discovered) | {name for name, _ in extras}
    unknown = [name for name in settings.plugins.enabled if name not in known]
    if unknown:
        available = ", ".join(sorted(known)) or "none installed"
        raise ConfigError(f"plugins.enabled: unknown plugin {unknown[0]!r} (available: {available})")

    for name, entry_point in sorted(discovered.items()):
        enabled = name in settings.plugins.enabled
        if enabled or enable_all:
            pm.register(entry_point.load(), name=name)
        infos.append(PluginInfo(name, entry_point.value, enabled=enabled, builtin=False))
    for name, plugin in extras:
        pm.register(plugin, name=name)
        module = getattr(plugin, "__name__", type(plugin).__module__)
        infos.append(PluginInfo(name, module, enabled=True, builtin=False))
    return pm, infos


def disabled_plugin_sections(pm: pluggy.PluginManager, wanted: Collection[str]) -> dict[str, str]:
    """Section name -> plugin name, from installed plugins not registered in ``pm``.

    Such plugins are loaded one at a time, those named like a ``wanted`` section first, until
    every wanted section is claimed; each is asked for ``mengchong_settings`` through a scratch
    manager, so nothing of theirs reaches ``pm`` (no route, model, task or handler).
    """
    remaining = set(wanted)
    candidates = sorted(
        (name, entry_point)
        for name, entry_point in discover_entry_points().items()
        if not pm.has_plugin(name)
    )
    candidates.sort(key=lambda candidate: candidate[0] not in remaining)  # stable: by name within each
    sections: dict[str, str] = {}
    for name, entry_point in candidates:
        if not remaining:
            break
        try:
            plugin = entry_point.load()
        except Exception as exc:
            raise ConfigError(
                f"plugins: the disabled plugin {name!r} can't be loaded to find its config section: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        scratch = pluggy.PluginManager("mengchong")
        scratch.add_hookspecs(hookspecs)
        scratch.register(plugin, name=name)
        for _plugin, (section, _model) in calls_by_plugin(scratch, "mengchong_settings"):
            sections[section] = name
            remaining.discard(section)
    return sections


def implementations(pm: pluggy.PluginManager, hook_name: str) -> list[HookImpl]:
    """One hook's implementations in registration order (pluggy *calls* them last-registered first)."""
    caller = getattr(pm.hook, hook_name, None)  # absent when nothing implements an unspecified hook
    return caller.get_hookimpls() if caller is not None else []


def call_implementation(impl: HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the keyword arguments it asks for, as pluggy would."""
    return impl.function(*[kwargs[name] for name in impl.argnames])


def calls_by_plugin(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call one hook plugin by plugin, keeping whose result is whose; None results are dropped."""
    results = [
        (impl.plugin_name, call_implementation(impl, **kwargs)) for impl in implementations(pm, hook_name)
    ]
    return [(name, result) for name, result in results if result is not None]


def hook_items(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """Every item of every plugin's result of a hook that returns an iterable (consumers,
    tasks, console sections...), plugin by plugin in registration order."""
    return [item for _plugin, items in calls_by_plugin(pm, hook_name, **kwargs) for item in items]


async def gather_hook(results: Iterable[Any]) -> list[Any]:
    """Await the hook results that are awaitable, in order; plain values pass through."""
    return [await result if inspect.isawaitable(result) else result for result in results]
