"""Each promise of the auth guard on its own, on both profiles: a ban refuses a token by itself
(no token-version bump to hide it), read from the cache or from the database; a reader racing a
writer never puts the older auth state back; the bearer scheme is case-insensitive and spaces
around the token don't matter; a signed token missing a claim is 401, never 500; a refused
token still counts against its client IP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import jwt
import pytest

from mengchong.accounts.guard import (
    AUTH_STATE_TTL_SECONDS,
    AuthState,
    CurrentUser,
    accepting,
    auth_state_key,
    auth_state_of,
    fill_auth_state,
    publish_auth_state,
    read_auth_state,
)
from mengchong.accounts.login import revoke_tokens
from mengchong.accounts.models import User
from mengchong.config import AuthSettings
from mengchong.http.errors import ApiError
from mengchong.keys import cache_key, database_key
from support import bearer, login, settings_from

PROFILE = "/v1/users/profile"


@pytest.fixture
async def client(profile, make_client):
    return await make_client(settings_from(profile))


async def user(client, code: str) -> tuple[int, dict[str, str]]:
    """Log in ``code``: the user id and the bearer header."""
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def status(client, headers: dict[str, str]) -> tuple[int, str]:
    response = await client.get(PROFILE, headers=headers)
    return response.status, (await response.json())["message"]


async def ban_without_revoking(client, user_id: int) -> User:
    """Set the ban flag alone, in the database: the token version stays as it was."""
    with client.server.app[database_key].activate():
        await User.filter(id=user_id).update(banned_at=datetime.now(UTC))
        return await User.get(id=user_id)


async def stored_user(client, user_id: int) -> User:
    with client.server.app[database_key].activate():
        return await User.get(id=user_id)


async def test_a_ban_in_the_cached_state_refuses_the_token_by_itself(client):
    cache = client.server.app[cache_key]
    alice_id, alice = await user(client, "alice")
    _, bob = await user(client, "bob")
    assert (await status(client, alice))[0] == 200
    banned = await ban_without_revoking(client, alice_id)
    await publish_auth_state(cache, banned)
    cached = read_auth_state(await cache.client.get(auth_state_key(cache, alice_id)))
    assert (cached.version, cached.banned) == (0, True)  # same version as the token: only the ban
    assert await status(client, alice) == (401, "This account is banned")
    assert (await status(client, bob))[0] == 200


async def test_a_ban_read_from_the_database_refuses_the_token_by_itself(client):
    cache = client.server.app[cache_key]
    alice_id, alice = await user(client, "alice")
    _, bob = await user(client, "bob")
    await ban_without_revoking(client, alice_id)
    await cache.delete(auth_state_key(cache, alice_id))  # the guard must read the database
    assert await status(client, alice) == (401, "This account is banned")
    filled = read_auth_state(await cache.client.get(auth_state_key(cache, alice_id)))
    assert (filled.version, filled.banned) == (0, True)
    assert await status(client, alice) == (401, "This account is banned")  # now from the cache
    assert (await status(client, bob))[0] == 200


async def test_a_reader_racing_a_writer_never_restores_the_older_state(client, monkeypatch):
    """The reader reads the database before the writer's commit and fills the cache after the
    writer published: its SET NX must leave the writer's state in place."""
    app = client.server.app
    cache = app[cache_key]
    alice_id, old_token = await user(client, "alice")
    key = auth_state_key(cache, alice_id)
    await cache.delete(key)
    reader_read, writer_published = asyncio.Event(), asyncio.Event()
    readers: list[asyncio.Task] = []
    real_set = cache.client.set

    async def set_after_the_writer(*args, **kwargs):
        if asyncio.current_task() in readers:  # the reader has read the database by now
            reader_read.set()
            await writer_published.wait()
        return await real_set(*args, **kwargs)

    monkeypatch.setattr(cache.client, "set", set_after_the_writer)
    with app[database_key].activate():
        readers.append(asyncio.create_task(fill_auth_state(cache, alice_id)))
        async with asyncio.timeout(10):
            await reader_read.wait()
        await revoke_tokens(app, alice_id)  # commits version 1, then publishes it
    writer_published.set()
    async with asyncio.timeout(10):
        stale = await readers[0]
    assert stale.version == 0  # what the reader read, before the commit
    assert read_auth_state(await cache.client.get(key)).version == 1
    assert (await status(client, old_token))[0] == 401
    _, fresh = await user(client, "alice")
    assert (await status(client, fresh))[0] == 200


async def test_auth_state_of_reads_the_cache_else_the_database(client):
    app = client.server.app
    cache = app[cache_key]
    alice_id, _ = await user(client, "alice")
    bob_id, _ = await user(client, "bob")
    key = auth_state_key(cache, alice_id)
    await cache.delete(key)
    with app[database_key].activate():
        assert await auth_state_of(app, alice_id) == AuthState(0, "user", "mock-alice", False)
    assert read_auth_state(await cache.client.get(key)) == AuthState(0, "user", "mock-alice", False)
    published = await stored_user(client, alice_id)
    published.token_version = 7  # a state the cache holds and the database does not
    await publish_auth_state(cache, published)
    with app[database_key].activate():
        assert (await auth_state_of(app, alice_id)).version == 7  # the cache is the truth
        assert (await auth_state_of(app, bob_id)).openid == "mock-bob"
        assert await auth_state_of(app, 987_654_321) is None
    assert await cache.client.get(auth_state_key(cache, 987_654_321)) is None


async def test_the_cached_auth_state_expires(client):
    """Filled or published, the state lives at most ``AUTH_STATE_TTL_SECONDS``: never forever."""
    cache = client.server.app[cache_key]
    alice_id, _ = await user(client, "alice")
    key = auth_state_key(cache, alice_id)
    limit = AUTH_STATE_TTL_SECONDS * 1000
    await cache.delete(key)
    with client.server.app[database_key].activate():
        await fill_auth_state(cache, alice_id)
    assert limit - 60_000 < await cache.client.pttl(key) <= limit
    await cache.delete(key)
    await publish_auth_state(cache, await stored_user(client, alice_id))
    assert limit - 60_000 < await cache.client.pttl(key) <= limit


def test_accepting_checks_each_refusal_on_its_own():
    current = AuthState(3, "user", "mock-a", False)
    assert accepting(current, 3) is current
    refusals = {
        "unknown user": (None, 3),
        "This account is banned": (AuthState(3, "user", "mock-a", True), 3),
        "Token revoked": (current, 2),
    }
    for message, (state, version) in refusals.items():
        with pytest.raises(ApiError) as refused:
            accepting(state, version)
        assert refused.value.status == 401, message
        assert message in refused.value.message


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_the_bearer_scheme_is_case_insensitive(client, scheme):
    data = await login(client, "alice")
    assert (await status(client, {"Authorization": f"{scheme} {data['token']}"}))[0] == 200


async def test_spaces_around_the_token_do_not_matter_but_the_scheme_does(client):
    token = (await login(client, "alice"))["token"]
    assert (await status(client, {"Authorization": f"Bearer   {token}"}))[0] == 200
    assert (await status(client, {"Authorization": f"Bearer {token}   "}))[0] == 200
    for header in (f"Basic {token}", f"Token {token}", f"Bearer{token}", f"Bearerx {token}", token):
        response = await client.get(PROFILE, headers={"Authorization": header})
        assert response.status == 401, header
        assert (await response.json())["message"] == "Missing bearer token", header


@pytest.mark.parametrize("missing", ["iat", "sub", "exp"])
async def test_a_signed_token_missing_a_claim_is_401_not_500(client, missing):
    user_id = (await login(client, "alice"))["user_info"]["user_id"]
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": "mengchong",
        "aud": "mengchong-miniprogram",
        "sub": user_id,
        "iat": now,
        "exp": now + 600,
    }
    del claims[missing]
    token = jwt.encode(claims, AuthSettings().jwt_secret, algorithm="HS256", headers={"kid": "k1"})
    response = await client.get(PROFILE, headers=bearer(token))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("cached", [True, False], ids=["state cached", "state filled"])
async def test_a_refused_token_counts_against_its_ip(profile, make_client, cached):
    routes = {"GET /v1/users/profile": {"per_ip": "3/minute"}}
    ratelimit = {"per_ip": "1000/minute", "per_user": "1000/minute", "routes": routes}
    client = await make_client(settings_from(profile, ratelimit=ratelimit))
    cache = client.server.app[cache_key]
    alice_id, revoked = await user(client, "alice")
    with client.server.app[database_key].activate():
        await revoke_tokens(client.server.app, alice_id)
    seen = []
    for _ in range(4):
        if not cached:
            await cache.delete(auth_state_key(cache, alice_id))
        seen.append((await status(client, revoked))[0])
    assert seen == [401, 401, 401, 429]


def test_who_is_asking_cannot_be_changed_once_known():
    """The guard's answer is shared by every later reader of the request (and the auth state by
    every reader of the cache entry): neither can be edited in place."""
    caller = CurrentUser(1, "user", "mock-a", 0, 0)
    with pytest.raises(AttributeError):
        caller.role = "admin"  # type: ignore[misc]
    state = AuthState(0, "user", "mock-a", False)
    with pytest.raises(AttributeError):
        state.banned = True  # type: ignore[misc]
