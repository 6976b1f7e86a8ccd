"""Mengchong (萌宠伙伴) backend: an aiohttp kernel that domain plugins plug into.

Plugins implement the hooks in :mod:`mengchong.hookspecs` with :data:`hookimpl`, and read their
own ``[section]`` of the settings with ``plugin_settings(app, TheirModel)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mengchong.hookspecs import hookimpl

if TYPE_CHECKING:
    from mengchong.plugin_sections import plugin_settings

__all__ = ["hookimpl", "plugin_settings"]


def __getattr__(name: str) -> Any:
    # plugin_settings is imported on first use: importing the package itself stays light, so
    # mengchong.launch can pause the garbage collector before anything heavy is imported.
    if name == "plugin_settings":
        from mengchong.plugin_sections import plugin_settings

        globals()["plugin_settings"] = plugin_settings  # looked up here once, directly after
        return plugin_settings
    raise AttributeError(f"module 'mengchong' has no attribute {name!r}")
