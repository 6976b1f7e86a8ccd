"""Mengchong (萌宠伙伴) backend: an aiohttp kernel that domain plugins plug into.

Plugins implement the hooks in :mod:`mengchong.hookspecs` with :data:`hookimpl`.
"""

from mengchong.hookspecs import hookimpl

__all__ = ["hookimpl"]
