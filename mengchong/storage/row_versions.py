"""Versions of database rows kept in the cache port, and a bounded in-process copy of rows read
under a version, so a hot read can skip the database while the copy is current.

A version is an opaque random string at ``<prefix>rowver:<table>:<key>``. Writers delete it after
their commit (:func:`mengchong.storage.transaction.touch`, then the table's listener), and the
next reader finds none and sets a fresh one (``SET NX``: one of several racing readers wins and
the others read its value). A reader keeps the row it read under the version it found *before*
reading, so:

- a reader that read the row before a commit keeps it under a version the writer deletes after
  the commit: the next reader sees a new version and reads the database again;
- a reader that read after the commit keeps a newer row under an old version: harmless, it is
  read again too.

So once a writer's ``async with`` has returned, no process serves a copy older than its write. A
version is random, never a counter, so a flushed or restarted Redis can't hand out a version an
older copy was kept under. The one gap: a delete that fails (Redis unreachable at that moment,
then back with its data). The writer's own process drops its copy at once, and every copy is
kept at most ``max_age_seconds``, which bounds how long another process could serve it.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from mengchong.storage.cache import Cache

VERSION_TTL_SECONDS = 86_400
"""A version unread for a day is dropped; the next reader sets a new one (one database read)."""

ROW_VERSION_LUA = f"""
local function row_version(key, candidate)
    local version = redis.call('get', key)
    if version then
        return version
    end
    redis.call('set', key, candidate, 'ex', {VERSION_TTL_SECONDS})
    return candidate
end
"""
"""The Lua function other scripts embed to answer a row's version in the round trip they make
anyway: the stored one, else ``candidate`` (:func:`new_version`), stored."""

_ENSURE_LUA = ROW_VERSION_LUA + "return row_version(KEYS[1], ARGV[1])"
_ENSURE_MANY_LUA = (
    ROW_VERSION_LUA
    + """
local versions = {}
for i, key in ipairs(KEYS) do versions[i] = row_version(key, ARGV[1] .. i) end
return versions
"""
)

T = TypeVar("T")


def new_version() -> str:
    return secrets.token_hex(8)


def version_key(cache: Cache, table: str, key: Hashable) -> str:
    return cache.key("rowver", table, str(key))


class RowVersions:
    """The versions of one table's rows in the cache port."""

    def __init__(self, cache: Cache, table: str) -> None:
        self.cache = cache
        self.table = table
        self._ensure = cache.client.register_script(_ENSURE_LUA)

    def key(self, row_key: Hashable) -> str:
        return version_key(self.cache, self.table, row_key)

    async def current(self, row_key: Hashable) -> str:
        """The row's version, set to a fresh one if it has none."""
        version = await self._ensure(keys=[self.key(row_key)], args=[new_version()])
        return version.decode() if isinstance(version, bytes) else str(version)

    async def current_many(self, row_keys: list[Hashable]) -> list[str]:
        """The rows' versions in one round trip on the command lane (for a request's hot path),
        fresh ones set where there are none."""
        if not row_keys:
            return []
        # One random candidate for all, numbered by the script: as unique, and one call to the
        # system's random source instead of one a row.
        versions = await self.cache.hot_script(_ENSURE_MANY_LUA)(
            keys=[self.key(k) for k in row_keys], args=[new_version() + ":"]
        )
        return [v.decode() if isinstance(v, bytes) else str(v) for v in versions]

    async def forget(self, row_keys: frozenset[Any]) -> None:
        """After a commit that changed these rows: their versions go, so every copy is stale."""
        if row_keys:
            await self.cache.client.delete(*(self.key(k) for k in row_keys))


class VersionedCopies(Generic[T]):
    """Rows read under a version, at most ``size`` of them (least recently used dropped first),
    each kept at most ``max_age_seconds``."""

    def __init__(self, size: int, max_age_seconds: float) -> None:
        self.size = size
        self.max_age = max_age_seconds
        self._rows: OrderedDict[Hashable, tuple[str, float, T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, row_key: Hashable, version: str) -> T | None:
        """The copy kept under ``version``, if it is that version's and young enough."""
        kept = self._rows.get(row_key)
        if kept is None:
            return None
        kept_version, kept_at, row = kept
        if kept_version != version or time.monotonic() - kept_at > self.max_age:
            del self._rows[row_key]
            return None
        self._rows.move_to_end(row_key)
        return row

    def peek(self, row_key: Hashable) -> tuple[str, T] | None:
        """The copy kept and the version it was kept under, if young enough, for a caller that
        checks the version itself (in the round trip it makes anyway)."""
        kept = self._rows.get(row_key)
        if kept is None:
            return None
        kept_version, kept_at, row = kept
        if time.monotonic() - kept_at > self.max_age:
            del self._rows[row_key]
            return None
        self._rows.move_to_end(row_key)
        return kept_version, row

    def put(self, row_key: Hashable, version: str, row: T) -> None:
        if self.size <= 0:
            return
        self._rows[row_key] = (version, time.monotonic(), row)
        self._rows.move_to_end(row_key)
        if len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def drop(self, row_keys: frozenset[Any]) -> None:
        for row_key in row_keys:
            self._rows.pop(row_key, None)
