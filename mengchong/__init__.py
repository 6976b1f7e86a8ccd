"""Mengchong (萌宠伙伴) backend: an aiohttp kernel that domain plugins plug into.

Plugins implement the hooks in :mod:`mengchong.hookspecs` with :data:`hookimpl`, and read their
own ``[section]`` of the settings with ``plugin_settings(app, TheirModel)``.
"""

from mengchong.hookspecs import hookimpl
from mengchong.plugin_settings import plugin_settings

__all__ = ["hookimpl", "plugin_settings"]
