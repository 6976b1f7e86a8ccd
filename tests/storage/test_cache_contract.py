"""Contract of the cache port, run on both adapters: in-process (fakeredis) and real Redis.

Whatever a plugin does with ``cache.client`` (sorted sets, Lua, INCR, locks) must behave the
same on the embedded profile as in production; each test here asserts literal expected values,
so passing on both adapters means both agree.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, ResponseError

from mengchong.config import CacheSettings
from mengchong.storage.cache import Cache, open_cache


async def test_json_round_trip_keeps_unicode_and_nesting(cache: Cache) -> None:
    value = {
        "名字": "小白 🐶",
        "nested": {"list": [1, 2.5, None, True, False, "ü"], "empty": {}, "deep": [[{"a": []}]]},
        "big": 2**53 + 1,
    }
    await cache.set_json(cache.key("pet", "1"), value)
    assert await cache.get_json(cache.key("pet", "1")) == value
    for scalar in ("萌宠", 0, [], ["a", {"b": 1}]):
        await cache.set_json(cache.key("scalar"), scalar)
        assert await cache.get_json(cache.key("scalar")) == scalar
    assert await cache.get_json(cache.key("missing")) is None


async def test_ttl_is_set_in_milliseconds_and_expires(cache: Cache) -> None:
    await cache.set_json(cache.key("long"), 1, ttl_seconds=30)
    assert 29_000 < await cache.client.pttl(cache.key("long")) <= 30_000
    await cache.set_json(cache.key("forever"), 1)
    assert await cache.client.ttl(cache.key("forever")) == -1
    # Milliseconds, not whole seconds: 100 s would show as at most 100,000 ms, 101 s as more than
    # 100,900. The 900 ms between the SET and the PTTL hold on a loaded machine.
    await cache.set_json(cache.key("fraction"), 1, ttl_seconds=100.9)
    assert 100_000 < await cache.client.pttl(cache.key("fraction")) <= 100_900
    await cache.set_json(cache.key("short"), 1, ttl_seconds=0.05)
    assert await cache.client.pttl(cache.key("short")) in (*range(0, 51), -2)  # -2: already gone
    await wait_until_gone(cache, cache.key("short"))
    assert await cache.get_json(cache.key("short")) is None


async def wait_until_gone(cache: Cache, key: str, timeout: float = 10.0) -> None:
    """Until the key has expired (TTLs are checked by the server's clock, not by a sleep here)."""
    async with asyncio.timeout(timeout):
        while await cache.client.pttl(key) != -2:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("ttl", [0, -1, -0.5])
async def test_a_ttl_that_is_not_positive_is_refused(cache: Cache, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        await cache.set_json(cache.key("x"), 1, ttl_seconds=ttl)
    assert await cache.get_json(cache.key("x")) is None


async def test_delete_counts_the_keys_that_existed(cache: Cache) -> None:
    a, b, missing = cache.key("a"), cache.key("b"), cache.key("missing")
    await cache.set_json(a, 1)
    await cache.set_json(b, 2)
    assert await cache.delete(a, b, missing) == 2
    assert await cache.delete(a) == 0
    assert await cache.delete() == 0
    assert await cache.get_json(a) is None


async def test_the_prefix_is_on_every_key(cache: Cache) -> None:
    assert cache.key("rank", "daily", "2024-05-01") == f"{cache.prefix}rank:daily:2024-05-01"
    await cache.set_json(cache.key("a"), 1)
    await cache.set_json(cache.key("b", "c"), 2, ttl_seconds=10)
    async with cache.lock("job", timeout=5):
        found = {key.decode() async for key in cache.client.scan_iter(match=f"{cache.prefix}*")}
    assert found == {f"{cache.prefix}a", f"{cache.prefix}b:c", f"{cache.prefix}lock:job"}
    assert await cache.client.exists("a", "b:c", "lock:job", "job") == 0


async def test_two_in_process_caches_do_not_share_data() -> None:
    first, second = open_cache(CacheSettings()), open_cache(CacheSettings())
    try:
        await first.set_json(first.key("x"), "first")
        assert await second.get_json(second.key("x")) is None
        async with first.lock("job", timeout=5), second.lock("job", timeout=5, blocking_timeout=0.2):
            pass
    finally:
        await first.close()
        await second.close()


RATE_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl > 0 and ttl <= tonumber(ARGV[2]) and 1 or 0, cjson.encode({count = count}), 'ok'}
"""


async def test_lua_scripts_give_the_same_results(cache: Cache) -> None:
    script = cache.client.register_script(RATE_SCRIPT)
    key = cache.key("rate", "user-1")
    assert await script(keys=[key], args=[3, 60_000]) == [3, 1, b'{"count":3}', b"ok"]
    assert await script(keys=[key], args=[2, 60_000]) == [5, 1, b'{"count":5}', b"ok"]
    assert await cache.client.eval(RATE_SCRIPT, 1, key, 1, 60_000) == [6, 1, b'{"count":6}', b"ok"]
    # Redis' Lua conversions: numbers truncate to integers, a table stops at its first nil.
    assert await cache.client.eval("return 3.99", 0) == 3
    assert await cache.client.eval("return {1, 2, nil, 4}", 0) == [1, 2]
    with pytest.raises(ResponseError):
        await cache.client.eval("return redis.call('NOSUCHCOMMAND')", 0)


async def test_sorted_sets_rank_like_a_leaderboard(cache: Cache) -> None:
    board = cache.key("board", "points")
    assert await cache.client.zadd(board, {"u1": 10, "u2": 30, "u3": 20, "u4": 20}) == 4
    assert await cache.client.zincrby(board, 5, "u1") == 15.0
    # Equal scores order by member, reversed in ZREVRANGE: u4 before u3.
    assert await cache.client.zrevrange(board, 0, -1, withscores=True) == [
        (b"u2", 30.0),
        (b"u4", 20.0),
        (b"u3", 20.0),
        (b"u1", 15.0),
    ]
    assert await cache.client.zrevrange(board, 1, 2) == [b"u4", b"u3"]
    assert await cache.client.zrevrank(board, "u2") == 0
    assert await cache.client.zrevrank(board, "u1") == 3
    assert await cache.client.zrank(board, "u1") == 0
    assert await cache.client.zrank(board, "nobody") is None
    assert await cache.client.zscore(board, "u3") == 20.0
    assert await cache.client.zcard(board) == 4


async def test_incr_is_atomic_under_200_concurrent_calls(cache: Cache) -> None:
    # More than redis-py's default pool size (100), which would raise MaxConnectionsError.
    key = cache.key("counter")
    results = await asyncio.gather(*(cache.client.incr(key) for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert int(await cache.client.get(key)) == 200


async def test_a_lock_admits_one_holder_at_a_time(cache: Cache) -> None:
    holders = 0
    most_holders = 0
    counter = cache.key("locked-counter")
    await cache.client.set(counter, 0)

    async def worker() -> None:
        nonlocal holders, most_holders
        async with cache.lock("counter", timeout=5, blocking_timeout=10, sleep=0.005):
            holders += 1
            most_holders = max(most_holders, holders)
            value = int(await cache.client.get(counter))
            await asyncio.sleep(0.002)  # a read-modify-write that would lose updates unlocked
            await cache.client.set(counter, value + 1)
            holders -= 1

    await asyncio.gather(*(worker() for _ in range(20)))
    assert most_holders == 1
    assert int(await cache.client.get(counter)) == 20
    assert await cache.client.exists(cache.key("lock", "counter")) == 0


async def test_a_held_lock_times_out_other_callers_and_expires(cache: Cache) -> None:
    held = cache.lock("job", timeout=0.3)
    assert await held.acquire()
    # It expires (-2 once it has, on a slow machine), and it is not kept for ever (-1).
    assert await cache.client.pttl(cache.key("lock", "job")) in (*range(0, 301), -2)
    started = time.monotonic()
    with pytest.raises(LockError):
        async with cache.lock("job", timeout=5, blocking_timeout=0.1):
            pytest.fail("acquired a lock somebody else holds")
    assert time.monotonic() - started < 4  # gave up after blocking_timeout, not the holder's 5 s
    async with cache.lock("job", timeout=5, blocking_timeout=2):  # the first holder's lock expires
        assert await cache.client.exists(cache.key("lock", "job")) == 1


async def test_ping_answers(cache: Cache) -> None:
    await cache.ping()


async def test_ping_fails_fast_when_redis_is_unreachable() -> None:
    cache = open_cache(CacheSettings(url="redis://127.0.0.1:1/0"))
    assert cache.name == "redis"
    await cache.open()  # lazy: the server may start before Redis does
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await cache.ping()
    assert time.monotonic() - started < 10  # refused at once, not after a retry loop or a hang
    await cache.close()


@pytest.mark.services
async def test_a_connection_closed_by_the_server_is_replaced(redis_url: str, redis_prefix: str) -> None:
    # Stands for a Redis restart or an idle timeout: redis-py 8.1 would reuse the dead connection.
    cache = open_cache(CacheSettings(url=redis_url, prefix=redis_prefix))
    admin = aioredis.Redis.from_url(redis_url)
    try:
        connection_id = await cache.client.client_id()
        assert await admin.client_kill_filter(_id=connection_id) == 1
        await asyncio.sleep(0.05)
        assert await cache.client.incr(cache.key("after-kill")) == 1
        assert await cache.client.client_id() != connection_id
    finally:
        await admin.aclose()
        await cache.close()
