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


async def test_many_versions_in_one_call_agree_with_one_at_a_time(cache: Cache) -> None:
    versions = RowVersions(cache, "users")
    kept = await versions.current(2)
    many = await versions.current_many([1, 2, 3])
    assert many[1] == kept
    assert len(set(many)) == 3  # fresh ones for 1 and 3, each its own
    assert [await versions.current(k) for k in (1, 2, 3)] == many
    await versions.forget(frozenset({1}))
    again = await versions.current_many([1, 3])
    assert again[0] not in many
    assert again[1] == many[2]
    assert await versions.current_many([]) == []


def test_peek_hands_back_the_copy_with_its_version_until_too_old(monkeypatch) -> None:
    import time

    from mengchong.storage.row_versions import VersionedCopies

    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    copies: VersionedCopies[list[str]] = VersionedCopies(size=2, max_age_seconds=10)
    assert copies.peek(1) is None
    copies.put(1, "v1", ["a"])
    assert copies.peek(1) == ("v1", ["a"])
    now[0] += 11
    assert copies.peek(1) is None
    assert len(copies) == 0
