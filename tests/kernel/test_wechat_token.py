"""The WeChat access token shared by several server processes through one cache (real Redis on
the services profile, one fakeredis-backed cache on the embedded one): asked of WeChat once
however many processes miss it at once, reused until shortly before it expires, replaced once
when WeChat refuses it, and a lock left by a dead process only delays the others. Then the send
errors the notifications consumer classifies, as the fake WeChat answers them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from fakes.wechat import APPID, SECRET, FakeWechat
from mengchong.config import CacheSettings, WechatSettings
from mengchong.storage.cache import Cache, open_cache
from mengchong.wechat import TOKEN_CACHE_KEY, TOKEN_LOCK_NAME, WechatClient, WechatError
from support import eventually

Processes = Callable[..., Awaitable[list[WechatClient]]]


@pytest.fixture
async def fake(aiohttp_server) -> FakeWechat:
    fake = FakeWechat()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url(""))  # type: ignore[attr-defined]
    return fake


@pytest.fixture(params=["embedded", pytest.param("services", marks=pytest.mark.services)])
def cache_settings(request) -> CacheSettings:
    """The cache of one runtime profile (a plain fixture: see ``database_url`` in conftest)."""
    if request.param == "embedded":
        return CacheSettings()
    return CacheSettings(
        url=request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("redis_prefix")
    )


@pytest.fixture
async def cache(cache_settings: CacheSettings) -> AsyncIterator[Cache]:
    """The store every process shares; on Redis, each process also gets connections of its own."""
    cache = open_cache(cache_settings)
    yield cache
    await cache.close()


@pytest.fixture
async def processes(
    fake: FakeWechat, cache: Cache, cache_settings: CacheSettings
) -> AsyncIterator[Processes]:
    """``await processes(n, timeout_seconds=...)``: the WeChat clients of n server processes, each
    with its own HTTP session, asyncio lock and (on Redis) connection pool, sharing one store."""
    clients: list[WechatClient] = []
    own_caches: list[Cache] = []

    async def make(n: int = 1, timeout_seconds: float = 2.0) -> list[WechatClient]:
        made = []
        for _ in range(n):
            view = cache
            if cache_settings.url:
                view = open_cache(cache_settings)
                own_caches.append(view)
            settings = WechatSettings(
                mode="live", appid=APPID, secret=SECRET, api_base=fake.base, timeout_seconds=timeout_seconds
            )
            client = WechatClient(settings, view)
            await client.open()
            made.append(client)
        clients.extend(made)
        return made

    yield make
    for client in clients:
        await client.close()
    for view in own_caches:
        await view.close()


def forced(fake: FakeWechat) -> list[bool]:
    """The ``force_refresh`` of every stable_token call, in order."""
    return [body["force_refresh"] for name, body in fake.calls if name == "stable_token"]


def sends(fake: FakeWechat) -> int:
    return sum(name == "subscribe_send" for name, _ in fake.calls)


async def send(client: WechatClient, openid: str = "o-alice", **options) -> None:
    await client.send_subscribe_message(openid, "tmpl-1", {"thing1": "喂食提醒"}, **options)


async def test_processes_missing_the_token_at_once_ask_wechat_once(processes: Processes, fake: FakeWechat):
    fake.token_delay = 0.3  # every process misses the cache while WeChat is still answering
    clients = await processes(5)
    await asyncio.gather(*(send(client, f"o-user{i}") for client in clients for i in range(10)))
    assert fake.stable_token_calls == 1
    assert fake.tokens_issued == 1
    assert len(fake.sent) == 50
    assert all(body["touser"].startswith("o-user") for body in fake.sent)
    tokens = await asyncio.gather(*(client.access_token() for client in clients))
    assert set(tokens) == {"token-1"}


async def test_the_token_is_cached_until_five_minutes_before_it_expires(
    processes: Processes, fake: FakeWechat, cache: Cache
):
    first, second = await processes(2)
    assert await first.access_token() == "token-1"
    ttl_ms = await cache.client.pttl(cache.key(TOKEN_CACHE_KEY))
    assert (7200 - 300 - 60) * 1000 < ttl_ms <= (7200 - 300) * 1000
    assert await second.access_token() == "token-1"
    assert fake.stable_token_calls == 1


async def test_a_short_lived_token_is_reused_then_refreshed_when_its_cache_entry_expires(
    processes: Processes, fake: FakeWechat, cache: Cache
):
    fake.token_expires_in = 2  # cached for half its life (five minutes early would be never)
    clients = await processes(2)
    assert await clients[0].access_token() == "token-1"
    assert 0 < await cache.client.pttl(cache.key(TOKEN_CACHE_KEY)) <= 1000
    seen = []
    deadline = asyncio.get_running_loop().time() + 10
    while (token := await clients[len(seen) % 2].access_token()) == "token-1":
        seen.append(token)
        assert asyncio.get_running_loop().time() < deadline, "the token was never refreshed"
        await asyncio.sleep(0.02)
    assert token == "token-2"
    assert fake.stable_token_calls == 2  # every call in between was answered by the cache
    assert forced(fake) == [False, False]


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_refused_token_is_replaced_once_and_the_call_retried(
    processes: Processes, fake: FakeWechat, cache: Cache, errcode: int
):
    (client,) = await processes(1)
    await send(client)
    fake.token_errors = [errcode]  # WeChat refuses the token it still hands out
    await send(client)
    assert len(fake.sent) == 2
    assert sends(fake) == 3
    assert fake.tokens_issued == 2
    # The normal mode first (forcing is rationed by WeChat), forced when it returns the same token.
    assert forced(fake) == [False, False, True]
    assert await cache.get_json(cache.key(TOKEN_CACHE_KEY)) == "token-2"


async def test_an_expired_token_is_replaced_without_forcing(processes: Processes, fake: FakeWechat):
    (client,) = await processes(1)
    await send(client)
    fake.expire_token()
    await send(client)
    assert [body["data"]["thing1"]["value"] for body in fake.sent] == ["喂食提醒", "喂食提醒"]
    assert fake.tokens_issued == 2
    assert forced(fake) == [False, False]


async def test_a_token_forced_by_someone_else_is_picked_up_without_forcing_again(
    processes: Processes, fake: FakeWechat
):
    (client,) = await processes(1)
    await send(client)
    elsewhere = WechatClient(client.settings)  # another deployment of the app, its own cache
    await elsewhere.open()
    try:
        assert await elsewhere.access_token(force_refresh=True) == "token-2"
    finally:
        await elsewhere.close()
    await send(client)  # its cached token-1 is now answered 40001
    assert fake.tokens_issued == 2  # nothing minted: WeChat's current token was taken
    assert forced(fake) == [False, True, False]
    assert len(fake.sent) == 2


@pytest.mark.parametrize("errors", [[42001, 42001], [40001, 42001], [40014, 40001]])
async def test_a_second_refusal_in_a_row_is_raised(processes: Processes, fake: FakeWechat, errors: list[int]):
    (client,) = await processes(1)
    fake.token_errors = list(errors)
    with pytest.raises(WechatError) as error:
        await send(client)
    assert error.value.errcode == errors[1]
    assert error.value.token_expired
    assert sends(fake) == 2
    assert fake.sent == []


async def test_two_processes_refused_the_same_token_replace_it_once(processes: Processes, fake: FakeWechat):
    first, second = await processes(2)
    await send(first)
    fake.send_script["o-bob"] = ["hold"]
    held = asyncio.create_task(send(second, "o-bob"))  # on its way with token-1
    await eventually(lambda: sends(fake) == 2)
    fake.expire_token()
    await send(first)  # 42001, replaces token-1 by token-2
    assert fake.tokens_issued == 2
    fake.release_held()
    await held  # 42001 for token-1 too: token-2 must survive its drop, and be used
    assert [body["touser"] for body in fake.sent] == ["o-alice", "o-alice", "o-bob"]
    assert fake.stable_token_calls == 2
    assert fake.tokens_issued == 2


async def test_many_processes_refused_at_once_replace_the_token_once(processes: Processes, fake: FakeWechat):
    clients = await processes(5)
    await send(clients[0])
    fake.expire_token()
    fake.token_delay = 0.2
    await asyncio.gather(*(send(client, f"o-user{i}") for client in clients for i in range(4)))
    assert len(fake.sent) == 21
    assert fake.tokens_issued == 2
    assert fake.stable_token_calls == 2


async def test_a_lock_left_by_a_dead_process_only_delays_the_refresh(
    processes: Processes, fake: FakeWechat, cache: Cache
):
    (client,) = await processes(1, timeout_seconds=0.5)  # waits up to 4 * 0.5 + 2 s for the lock
    lock_key = cache.key("lock", TOKEN_LOCK_NAME)
    await cache.client.set(lock_key, b"dead-process", px=800)
    task = asyncio.create_task(client.access_token())
    while await cache.client.get(lock_key) == b"dead-process":
        assert fake.stable_token_calls == 0
        await asyncio.sleep(0.02)
    assert await task == "token-1"
    assert fake.stable_token_calls == 1
    assert await cache.client.exists(lock_key) == 0  # released after the refresh


async def test_a_lock_not_obtained_in_time_is_a_transient_wechat_error(
    processes: Processes, fake: FakeWechat, cache: Cache
):
    (client,) = await processes(1, timeout_seconds=0.2)
    lock_key = cache.key("lock", TOKEN_LOCK_NAME)
    await cache.client.set(lock_key, b"dead-process", px=60_000)
    with pytest.raises(WechatError) as error:
        await send(client)
    assert error.value.errcode == -1
    assert error.value.transient
    assert fake.stable_token_calls == 0
    assert sends(fake) == 0
    await cache.delete(lock_key)


# --- Send errors, as the notifications consumer sees them ----------------------------------


@pytest.mark.parametrize(
    ("script", "errcode", "attempts"),
    [
        (["http500", "http500"], -1, 2),
        ([-1, -1], -1, 2),
        ([45009], 45009, 1),
        ([43101], 43101, 1),
        ([40003], 40003, 1),
    ],
)
async def test_scripted_send_errors(processes: Processes, fake: FakeWechat, script, errcode, attempts):
    (client,) = await processes(1)
    fake.send_script["o-alice"] = list(script)  # parametrize shares its lists between runs
    with pytest.raises(WechatError) as error:
        await send(client)
    assert error.value.errcode == errcode
    assert (error.value.transient, error.value.refused, error.value.bad_request) == (
        errcode in (-1, 45009),
        errcode == 43101,
        errcode == 40003,
    )
    assert sends(fake) == attempts
    assert fake.sent == []
    await send(client)  # the script is used up: the next send succeeds
    assert len(fake.sent) == 1


@pytest.mark.parametrize("script", [["http500"], [-1], [0]])
async def test_one_busy_answer_is_retried_and_succeeds(processes: Processes, fake: FakeWechat, script):
    (client,) = await processes(1)
    fake.send_script["o-alice"] = list(script)  # parametrize shares its lists between runs
    await send(client)
    assert len(fake.sent) == 1
    assert sends(fake) == (1 if script == [0] else 2)


async def test_a_slow_send_is_retried_once(processes: Processes, fake: FakeWechat):
    (client,) = await processes(1, timeout_seconds=0.5)
    fake.slow_seconds = 0.8
    fake.send_script["o-alice"] = ["slow"]
    await send(client)
    assert sends(fake) == 2
    # The test server cancels the handler we hung up on; the real WeChat may deliver it too.
    assert len(fake.sent) == 1
    fake.send_script["o-alice"] = ["slow", "slow"]
    with pytest.raises(WechatError) as error:
        await send(client)
    assert error.value.transient
    assert sends(fake) == 4


@pytest.mark.parametrize(
    ("data", "options", "errcode"),
    [
        ({"thing1": "一" * 21}, {}, 47003),
        ({"thing1": ""}, {}, 47003),
        ({"number2": "12a"}, {}, 47003),
        ({"thing1": "ok"}, {"miniprogram_state": "prod"}, 47003),
        ({"thing1": "ok"}, {"lang": "fr_FR"}, 47003),
        ({"thing1": "ok"}, {"page": "pages/missing"}, 41030),
    ],
)
async def test_data_breaking_wechats_rules_is_a_bad_request(
    processes: Processes, fake: FakeWechat, data, options, errcode
):
    (client,) = await processes(1)
    fake.pages = {"pages/index"}
    with pytest.raises(WechatError) as error:
        await client.send_subscribe_message("o-alice", "tmpl-1", data, **options)
    assert error.value.errcode == errcode
    assert error.value.bad_request
    assert not error.value.transient
    assert fake.sent == []


async def test_an_unknown_template_is_a_bad_request_and_options_are_sent(
    processes: Processes, fake: FakeWechat
):
    (client,) = await processes(1)
    fake.templates, fake.pages = {"tmpl-1"}, {"pages/index"}
    with pytest.raises(WechatError) as error:
        await client.send_subscribe_message("o-alice", "tmpl-x", {"thing1": "ok"})
    assert error.value.errcode == 40037
    assert error.value.bad_request
    data = {"thing1": "一" * 20, "number2": "-12.5"}
    await client.send_subscribe_message(
        "o-alice", "tmpl-1", data, "pages/index?id=1", miniprogram_state="trial", lang="zh_CN"
    )
    (body,) = fake.sent
    assert (body["page"], body["miniprogram_state"], body["lang"]) == ("pages/index?id=1", "trial", "zh_CN")
    assert body["data"] == {"thing1": {"value": "一" * 20}, "number2": {"value": "-12.5"}}
