"""The hot path's commands and Lua scripts (``cache.fast``, ``cache.hot_script``) on both cache
adapters: their answers, a script the server has never seen, many calls at once on a few
connections, a call cancelled mid-reply (its late reply never read as the next call's), and
connections the server closed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from mengchong.config import CacheSettings
from mengchong.storage.cache import Cache, open_cache
from mengchong.storage.cache_lane import CommandLane, HotScript

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"


def unique(source: str) -> str:
    """A script the server's script cache has never held: the first call must EVAL it."""
    return f"-- {uuid.uuid4().hex}\n{source}"


async def test_answers_like_eval_even_for_a_script_the_server_never_saw(cache: Cache) -> None:
    script = cache.hot_script(unique(ECHO))
    assert await script(keys=[cache.key("k")], args=["a", 41]) == [cache.key("k").encode(), b"a", 42]
    assert await script(keys=[cache.key("k")], args=["b", 1]) == [cache.key("k").encode(), b"b", 2]


async def test_many_calls_at_once_each_get_their_own_answer(cache: Cache) -> None:
    script = cache.hot_script(unique(ECHO))
    answers = await asyncio.gather(*(script(keys=["k"], args=[str(i), i]) for i in range(200)))
    assert [answer[1:] for answer in answers] == [[str(i).encode(), i + 1] for i in range(200)]
    if isinstance(script, HotScript):
        assert len(script.lane._made) <= 32  # a bounded set of connections, not one per call


async def test_fast_commands_answer_as_the_client_does(cache: Cache) -> None:
    key = cache.key("pages")
    await cache.client.hset(key, "page=1", b"{}")
    assert await cache.fast("HGET", key, "page=1") == await cache.client.hget(key, "page=1") == b"{}"
    assert await cache.fast("HGET", key, "page=2") is None
    await cache.client.set(cache.key("text"), "x")
    with pytest.raises(ResponseError):  # WRONGTYPE: raised, and the lane goes on
        await cache.fast("HGET", cache.key("text"), "f")
    assert await cache.fast("GET", cache.key("text")) == b"x"


async def test_an_error_reply_is_raised_and_the_next_call_is_answered(cache: Cache) -> None:
    script = cache.hot_script(unique("if ARGV[1] == 'fail' then error('asked to') end return ARGV[1]"))
    with pytest.raises(ResponseError):
        await script(keys=[], args=["fail"])
    assert await script(keys=[], args=["fine"]) == b"fine"


@pytest.fixture
async def redis_cache(redis_url: str, redis_prefix: str):
    cache = open_cache(CacheSettings(url=redis_url, prefix=redis_prefix))
    yield cache
    await cache.close()


@pytest.mark.services
async def test_a_cancelled_call_leaves_no_late_reply_for_the_next_one(redis_cache: Cache) -> None:
    # The script spins ~0.2 s in Redis: the caller gives up first (a request deadline).
    slow = unique(
        "local start = redis.call('time'); local stop = start[1] * 1e6 + start[2] + 200000\n"
        "repeat local now = redis.call('time') until now[1] * 1e6 + now[2] >= stop\n"
        "return ARGV[1]"
    )
    script = HotScript(CommandLane(redis_cache.client, size=1), slow)  # the next call reuses it
    await script(keys=[], args=["warm"])  # loaded
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await script(keys=[], args=["late"])
    assert await script(keys=[], args=["mine"]) == b"mine"
    await script.lane.close()


@pytest.mark.services
async def test_connections_the_server_closed_are_replaced(redis_cache: Cache, redis_url: str) -> None:
    # A Redis restart or an idle timeout: every connection of the script is gone at once.
    script = redis_cache.hot_script(unique("return ARGV[1]"))
    assert isinstance(script, HotScript)
    await asyncio.gather(*(script(keys=[], args=["x"]) for _ in range(4)))
    ids = set()
    for connection in script.lane._made:
        await connection.send_command("CLIENT", "ID")
        ids.add(await connection.read_response())
    admin = aioredis.Redis.from_url(redis_url)
    try:
        for connection_id in ids:
            assert await admin.client_kill_filter(_id=connection_id) == 1
    finally:
        await admin.aclose()
    await asyncio.sleep(0.05)
    again = await asyncio.gather(*(script(keys=[], args=[str(i)]) for i in range(4)))
    assert again == [str(i).encode() for i in range(4)]  # every call answered, none failed
