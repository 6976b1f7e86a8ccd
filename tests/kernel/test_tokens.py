"""JWTs: a valid token passes; tampered, expired, ``alg: none``, other-algorithm, unknown-kid,
wrong-audience and wrong-issuer tokens are refused; keys rotate; the verified cache is bounded
and never outlives ``exp``."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from mengchong.accounts.tokens import TokenError, TokenService

KEYS = {"k2": "new-secret-" + "x" * 32, "k1": "old-secret-" + "y" * 32}


def service(**overrides) -> TokenService:
    options = {"issuer": "mengchong", "audience": "mengchong-app", "ttl_seconds": 3600}
    options.update(overrides)
    keys = options.pop("keys", KEYS)
    kid = options.pop("kid", "k2")
    return TokenService(keys, kid, **options)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip():
    tokens = service()
    token, ttl = tokens.issue(42, 3)
    claims = tokens.verify(token)
    assert (claims.user_id, claims.version, claims.kid, ttl) == (42, 3, "k2", 3600)
    assert claims.expires_at - claims.issued_at == 3600


def forged_tokens() -> dict[str, str]:
    now = int(time.time())
    good = {"iss": "mengchong", "aud": "mengchong-app", "sub": "42", "iat": now, "exp": now + 60, "ver": 0}
    token, _ = service().issue(42, 0)
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    return {
        "tampered signature": f"{head}.{body}.{flipped}",
        "tampered payload": f"{head}.{b64({**good, 'sub': '1'})}.{signature}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k2'})}.{b64(good)}.",
        "HS512": jwt.encode(good, KEYS["k2"], algorithm="HS512", headers={"kid": "k2"}),
        "unknown kid": jwt.encode(good, KEYS["k2"], algorithm="HS256", headers={"kid": "k9"}),
        "no kid": jwt.encode(good, KEYS["k2"], algorithm="HS256"),
        "wrong key for kid": jwt.encode(good, "z" * 40, algorithm="HS256", headers={"kid": "k2"}),
        "expired": jwt.encode({**good, "exp": now - 1}, KEYS["k2"], algorithm="HS256", headers={"kid": "k2"}),
        "wrong audience": jwt.encode(
            {**good, "aud": "other"}, KEYS["k2"], algorithm="HS256", headers={"kid": "k2"}
        ),
        "wrong issuer": jwt.encode(
            {**good, "iss": "other"}, KEYS["k2"], algorithm="HS256", headers={"kid": "k2"}
        ),
        "no exp": jwt.encode(
            {k: v for k, v in good.items() if k != "exp"},
            KEYS["k2"],
            algorithm="HS256",
            headers={"kid": "k2"},
        ),
        "non-numeric sub": jwt.encode(
            {**good, "sub": "abc"}, KEYS["k2"], algorithm="HS256", headers={"kid": "k2"}
        ),
        "garbage": "not.a.jwt",
        "empty": "",
        **{f"claims {name}": signed({**good, **claims}) for name, claims in bad_claims(now).items()},
        "no iat": signed({k: v for k, v in good.items() if k != "iat"}),
        "non-ASCII": "\udce9" + token,  # a header byte that is not UTF-8, as aiohttp decodes it
    }


def signed(claims: dict) -> str:
    return jwt.encode(claims, KEYS["k2"], algorithm="HS256", headers={"kid": "k2"})


def bad_claims(now: int) -> dict[str, dict]:
    """Claims only a holder of the key could sign, each one we never write (ttl is 3600)."""
    return {
        "sub 2^63": {"sub": str(2**63)},
        "sub 0": {"sub": "0"},
        "sub negative": {"sub": "-1"},
        "sub with a plus": {"sub": "+42"},
        "sub with spaces": {"sub": " 42"},
        "sub as a number": {"sub": 42},
        "ver 2^31": {"ver": 2**31},
        "ver negative": {"ver": -1},
        "ver a string": {"ver": "0"},
        "ver a float": {"ver": 0.5},
        "ver true": {"ver": True},
        "iat a float": {"iat": now + 0.5},
        "iat in the future": {"iat": now + 62, "exp": now + 120},  # 2 s past the leeway: a second may tick
        "lifetime over the ttl": {"iat": now - 10, "exp": now + 3591},
    }


@pytest.mark.parametrize("name", list(forged_tokens()))
def test_forged_and_broken_tokens_are_refused(name):
    with pytest.raises(TokenError):
        service().verify(forged_tokens()[name])


def test_claims_at_their_bounds_are_accepted():
    now = int(time.time())
    good = {"iss": "mengchong", "aud": "mengchong-app", "iat": now, "ver": 0}
    tokens = service()
    at_bounds = [
        {"sub": str(2**63 - 1), "exp": now + 3600},
        {"sub": "1", "ver": 2**31 - 1, "exp": now + 60},
        {"sub": "1", "iat": now + 60, "exp": now + 3660},  # the clock leeway, exactly
        {"sub": "1", "iat": now - 3599, "exp": now + 1},  # exp - iat == ttl, exactly
    ]
    for claims in at_bounds:
        assert tokens.verify(signed({**good, **claims})).user_id == int(claims["sub"])


def test_rotation_accepts_the_old_key_until_it_is_dropped():
    old_token, _ = service(kid="k1").issue(7, 0)
    assert service(kid="k2").verify(old_token).kid == "k1"
    with pytest.raises(TokenError):
        service(keys={"k2": KEYS["k2"]}, kid="k2").verify(old_token)


def test_a_cached_token_still_expires():
    tokens = service(ttl_seconds=60)
    token, _ = tokens.issue(1, 0)
    claims = tokens.verify(token)
    assert tokens.verify(token) is claims  # served from the cache
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token, now=claims.expires_at)


def test_the_cache_is_bounded():
    tokens = service(cache_size=3)
    issued = [tokens.issue(n, 0)[0] for n in range(1, 6)]
    for token in issued:
        tokens.verify(token)
    assert len(tokens._cache) == 3


def test_the_signing_key_must_be_accepted():
    with pytest.raises(ValueError, match="k3"):
        service(kid="k3")
