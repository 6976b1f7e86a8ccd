"""Row versions on both cache adapters: a version holds until forgotten, a forgotten one is never
handed out again (not even after the cache is flushed), racing readers agree on one. (The auth
guard's admission script reads them too: tests/accounts/test_profile_copies.py.)"""

from __future__ import annotations

import asyncio

from mengchong.storage.cache import Cache
from mengchong.storage.row_versions import RowVersions


async def test_a_version_holds_until_forgotten_and_is_never_handed_out_again(cache: Cache) -> None:
    versions = RowVersions(cache, "users")
    first = await versions.current(1)
    assert await versions.current(1) == first
    assert await versions.current(2) != first  # rows are versioned apart
    seen = {first}
    for _ in range(20):
        await versions.forget(frozenset({1}))
        again = await versions.current(1)
        assert again not in seen
        seen.add(again)
    # A Redis restarted empty (only this test's keys: the server is shared): never reused.
    await cache.client.delete(*[key async for key in cache.client.scan_iter(match=cache.key("*"))])
    assert await versions.current(1) not in seen


async def test_readers_racing_on_a_missing_version_agree_on_one(cache: Cache) -> None:
    versions = RowVersions(cache, "users")
    answers = await asyncio.gather(*(versions.current(7) for _ in range(20)))
    assert len(set(answers)) == 1
    assert await versions.current(7) == answers[0]


async def test_forgetting_nothing_or_unknown_rows_is_harmless(cache: Cache) -> None:
    versions = RowVersions(cache, "users")
    kept = await versions.current(1)
    await versions.forget(frozenset())
    await versions.forget(frozenset({99}))
    assert await versions.current(1) == kept
    assert await cache.client.ttl(versions.key(1)) > 0  # an unread version expires
