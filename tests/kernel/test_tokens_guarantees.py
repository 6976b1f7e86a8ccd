"""Each promise of :mod:`mengchong.accounts.tokens` on its own: every claim bound exactly at its
threshold and one past it (with the clock passed in, so the bound is exact), the verified cache
evicting its least recently used token, and expiry and messages on each path."""

from __future__ import annotations

import time

import jwt
import pytest

from mengchong.accounts.tokens import LEEWAY_SECONDS, MAX_ID, MAX_VERSION, TokenError, TokenService

KEYS = {"k2": "new-secret-" + "x" * 32, "k1": "old-secret-" + "y" * 32}
TTL = 3600


def service(cache_size: int = 10_000) -> TokenService:
    return TokenService(
        KEYS, "k2", issuer="mengchong", audience="mengchong-app", ttl_seconds=TTL, cache_size=cache_size
    )


def signed(claims: dict, *, kid: str = "k2") -> str:
    return jwt.encode(claims, KEYS[kid], algorithm="HS256", headers={"kid": kid})


def token_at(now: int, **overrides: object) -> str:
    """A token we could have issued at ``now`` (lifetime 600 s), with ``overrides``; a claim
    given as None is left out."""
    claims = {"iss": "mengchong", "aud": "mengchong-app", "sub": "42", "iat": now, "exp": now + 600, "ver": 0}
    claims.update(overrides)
    return signed({key: value for key, value in claims.items() if value is not None})


def accepted(token: str, now: int) -> bool:
    """Whether a fresh service (nothing cached) accepts ``token`` at ``now``."""
    try:
        service().verify(token, now=now)
    except TokenError:
        return False
    return True


def bounds(now: int) -> dict[str, tuple[dict, dict]]:
    """Per threshold: the claims exactly at it (accepted) and one past it (refused)."""
    return {
        "sub at most 2^63-1": ({"sub": str(MAX_ID)}, {"sub": str(MAX_ID + 1)}),
        "sub at least 1": ({"sub": "1"}, {"sub": "0"}),
        "ver at most 2^31-1": ({"ver": MAX_VERSION}, {"ver": MAX_VERSION + 1}),
        "ver at least 0": ({"ver": 0}, {"ver": -1}),
        "iat at most the leeway ahead": (
            {"iat": now + LEEWAY_SECONDS, "exp": now + LEEWAY_SECONDS + 10},
            {"iat": now + LEEWAY_SECONDS + 1, "exp": now + LEEWAY_SECONDS + 10},
        ),
        "lifetime at most the ttl": (
            {"iat": now - 100, "exp": now - 100 + TTL},
            {"iat": now - 100, "exp": now - 100 + TTL + 1},
        ),
        "nbf not after now": ({"nbf": now}, {"nbf": now + 1}),
        "aud ours, or a list of strings holding it": (
            {"aud": ["other", "mengchong-app"]},
            {"aud": ["other", 7, "mengchong-app"]},
        ),
    }


@pytest.mark.parametrize("name", list(bounds(0)))
def test_each_claim_bound_exactly_and_one_past(name):
    now = int(time.time())
    at, past = bounds(now)[name]
    assert accepted(token_at(now, **at), now), f"{name}: exactly at the bound is accepted"
    assert not accepted(token_at(now, **past), now), f"{name}: one past the bound is refused"


def test_a_token_expires_exactly_at_exp():
    now = int(time.time())
    token = token_at(now, exp=now + 100)
    assert accepted(token, now + 99)
    with pytest.raises(TokenError, match="expired"):
        service().verify(token, now=now + 100)


def test_a_cached_token_expires_exactly_at_exp_and_is_dropped():
    now = int(time.time())
    tokens = service()
    token = token_at(now, exp=now + 100)
    claims = tokens.verify(token, now=now)
    assert tokens.verify(token, now=now + 99) is claims  # a cache hit, still valid
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token, now=now + 100)
    assert len(tokens._cache) == 0  # an expired token is not kept


def test_a_token_is_accepted_in_its_last_second():
    for _ in range(3):  # a retry only if the clock's second turned over in between
        now = int(time.time())
        try:
            service().verify(token_at(now, iat=now - 10, exp=now + 1))
        except TokenError:
            continue
        return
    pytest.fail("a token one second before its exp was refused")


def test_a_token_of_another_algorithm_says_so():
    now = int(time.time())
    claims = {"iss": "mengchong", "aud": "mengchong-app", "sub": "42", "iat": now, "exp": now + 60}
    other = jwt.encode(claims, "z" * 64, algorithm="HS512", headers={"kid": "k2"})
    with pytest.raises(TokenError, match="algorithm or key"):
        service().verify(other)


def test_a_token_past_its_exp_on_the_real_clock_says_expired():
    now = int(time.time())
    with pytest.raises(TokenError, match="expired"):
        service().verify(token_at(now - 700, exp=now - 1))


def test_a_token_without_ver_is_version_0():
    now = int(time.time())
    assert service().verify(token_at(now, ver=None), now=now).version == 0


def broken_claims(now: int) -> dict[str, dict]:
    """Signed claims we never write: one missing or of the wrong type or size each."""
    return {
        "no sub": {"sub": None},
        "no iat": {"iat": None},
        "no exp": {"exp": None},
        "exp a float": {"exp": now + 600.5},
        "iat true": {"iat": True},
        "iat a string": {"iat": str(now)},
        "sub 20 digits": {"sub": "1" * 20},
        "no iss": {"iss": None},
        "another iss": {"iss": "someone-else"},
        "no aud": {"aud": None},
        "aud a list without us": {"aud": ["other"]},
        "nbf a string": {"nbf": str(now)},
        "nbf true": {"nbf": True},
        "jti a number": {"jti": 7},
    }


@pytest.mark.parametrize("name", list(broken_claims(0)))
def test_a_signed_token_missing_or_mistyping_a_claim_is_a_token_error(name):
    now = int(time.time())
    with pytest.raises(TokenError):
        service().verify(token_at(now, **broken_claims(now)[name]), now=now)


def test_issue_writes_the_clock_it_is_given():
    tokens = service()
    now = int(time.time()) - 10
    token, ttl = tokens.issue(7, 5, now=now + 0.9)
    claims = tokens.verify(token, now=now)
    assert (claims.user_id, claims.version, claims.issued_at, claims.expires_at, ttl) == (
        7,
        5,
        now,
        now + TTL,
        TTL,
    )
    assert claims.kid == "k2"


def test_the_cache_tells_two_users_apart():
    tokens = service()
    alice, _ = tokens.issue(1, 0)
    bob, _ = tokens.issue(2, 3)
    for _ in range(2):  # decoded, then cached
        assert (tokens.verify(alice).user_id, tokens.verify(alice).version) == (1, 0)
        assert (tokens.verify(bob).user_id, tokens.verify(bob).version) == (2, 3)


def test_the_cache_evicts_the_least_recently_used_token():
    tokens = service(cache_size=2)
    first, second, third = (tokens.issue(n, 0)[0] for n in (1, 2, 3))
    a = tokens.verify(first)
    b = tokens.verify(second)
    assert tokens.verify(first) is a  # now the most recently used
    c = tokens.verify(third)  # evicts the second, used longest ago
    assert tokens.verify(first) is a
    assert tokens.verify(third) is c
    assert tokens.verify(second) is not b  # decoded again
    assert len(tokens._cache) == 2


def test_a_token_signed_with_the_previous_key_is_cached_under_its_kid():
    tokens = service()
    now = int(time.time())
    old = signed(
        {"iss": "mengchong", "aud": "mengchong-app", "sub": "9", "iat": now, "exp": now + 60}, kid="k1"
    )
    assert tokens.verify(old).kid == "k1"
    assert tokens.verify(old).kid == "k1"


def test_cached_claims_are_shared_so_they_cannot_be_changed():
    tokens = service()
    token, _ = tokens.issue(5, 0)
    claims = tokens.verify(token)
    with pytest.raises(AttributeError):
        claims.user_id = 6  # would change every later caller's view of this token
    assert tokens.verify(token).user_id == 5


def test_the_service_options_are_keyword_only():
    """Issuer and audience are both strings: passed by position they could swap unnoticed."""
    with pytest.raises(TypeError):
        TokenService(KEYS, "k2", "mengchong", "mengchong-app", TTL)  # type: ignore[misc]


def test_the_clock_is_passed_by_keyword_only():
    """``issue(user_id, version, now)`` by position would read a timestamp as a third id-like number."""
    tokens = service()
    with pytest.raises(TypeError):
        tokens.issue(1, 0, time.time())  # type: ignore[misc]
    token, _ = tokens.issue(1, 0)
    with pytest.raises(TypeError):
        tokens.verify(token, time.time())  # type: ignore[misc]
