"""JWTs: HS256 only, with ``iss``, ``aud``, ``exp``, ``iat``, ``sub`` (user id), ``ver`` (the
user's token version, bumped by logout and bans) and ``kid`` naming the signing key, so keys
rotate by adding the new one and keeping the old one accepted until its tokens expire.

Signatures are checked by :mod:`mengchong.accounts.jws` (the standard library). Decoding
still costs microseconds, so a verified token is remembered in a
bounded LRU until its ``exp``; the caller still compares ``ver`` with the user's current
version on every request, so revocation is never cached away.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import blake2b
from typing import TypeGuard

from mengchong.accounts import jws

ALGORITHM = jws.ALGORITHM
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")
LEEWAY_SECONDS = 60
"""How far ahead of our clock a token's ``iat`` may be (another process's clock, or ours moved)."""
MAX_ID = 2**63 - 1  # user ids are BIGINT
MAX_VERSION = 2**31 - 1  # token versions are INTEGER
_USER_ID = re.compile(r"[1-9][0-9]{0,18}")


class TokenError(Exception):
    """The token is missing, malformed, forged, expired, or signed by a key we don't accept."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    version: int
    issued_at: int
    expires_at: int
    kid: str


class TokenService:
    def __init__(
        self,
        keys: Mapping[str, str],
        current_kid: str,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        cache_size: int = 10_000,
    ) -> None:
        if current_kid not in keys:
            raise ValueError(f"signing key {current_kid!r} is not among the accepted keys")
        self._keys = dict(keys)
        self._kid = current_kid
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds
        # Keyed by a 128-bit digest of the whole token: a 16-byte key instead of a 230-character
        # string, about 2 MB less for 10,000 cached tokens.
        self._cache: OrderedDict[bytes, TokenClaims] = OrderedDict()
        self._cache_size = cache_size

    def issue(self, user_id: int, version: int, *, now: float | None = None) -> tuple[str, int]:
        """A signed token for the user and the seconds it lives."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "iat": issued,
            "exp": issued + self.ttl_seconds,
            "ver": version,
        }
        return jws.encode(claims, self._keys[self._kid], self._kid), self.ttl_seconds

    def verify(self, token: str, *, now: float | None = None) -> TokenClaims:
        """The token's claims; :class:`TokenError` for anything but a valid, unexpired token of ours."""
        moment = now if now is not None else time.time()
        if not token.isascii():  # a JWT is base64url and dots; a header may carry any byte
            raise TokenError("malformed token")
        key = blake2b(token.encode(), digest_size=16).digest()
        cached = self._cache.get(key)
        if cached is not None:
            if cached.expires_at <= moment:
                del self._cache[key]
                raise TokenError("token expired")
            self._cache.move_to_end(key)
            return cached
        claims = self._decode(token, moment)
        self._cache[key] = claims
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return claims

    def _decode(self, token: str, moment: float) -> TokenClaims:
        try:
            header = jws.header_of(token)
        except jws.JwsError:
            raise TokenError("malformed token") from None
        kid = header.get("kid")
        if not jws.accepted(header) or not isinstance(kid, str) or kid not in self._keys:
            raise TokenError("token signed with an algorithm or key we don't accept")
        try:
            payload = jws.verified_payload(token, self._keys[kid])
        except jws.JwsError:
            raise TokenError("invalid token") from None
        if not all(name in payload for name in REQUIRED_CLAIMS):
            raise TokenError("invalid token")
        expires_at = payload["exp"]
        if _whole(expires_at) and expires_at <= moment:
            raise TokenError("token expired")
        not_before = payload.get("nbf", moment)
        if not isinstance(not_before, int | float) or isinstance(not_before, bool) or not_before > moment:
            raise TokenError("invalid token")
        if payload["iss"] != self._issuer or not self._for_us(payload["aud"]):
            raise TokenError("invalid token")
        if "jti" in payload and not isinstance(payload["jti"], str):
            raise TokenError("invalid token")
        return self._claims(payload, kid, moment)

    def _for_us(self, audience: object) -> bool:
        """``aud`` names us: our audience, or a list of strings holding it."""
        if isinstance(audience, list):
            return all(isinstance(a, str) for a in audience) and self._audience in audience
        return audience == self._audience

    def _claims(self, payload: dict[str, object], kid: str, moment: float) -> TokenClaims:
        """The claims of a token whose signature holds, refused unless each is one we could have
        written: ``sub`` a user id, ``ver`` a token version, ``iat`` not ahead of our clock (beyond
        :data:`LEEWAY_SECONDS`) and ``exp - iat`` no longer than the configured lifetime."""
        subject, version = payload["sub"], payload.get("ver", 0)
        issued_at, expires_at = payload["iat"], payload["exp"]
        if not isinstance(subject, str) or not _USER_ID.fullmatch(subject) or int(subject) > MAX_ID:
            raise TokenError("invalid token claims")
        if not (_whole(version) and _whole(issued_at) and _whole(expires_at)):
            raise TokenError("invalid token claims")
        if not 0 <= version <= MAX_VERSION:
            raise TokenError("invalid token claims")
        if issued_at > moment + LEEWAY_SECONDS or expires_at - issued_at > self.ttl_seconds:
            raise TokenError("invalid token lifetime")
        if expires_at <= moment:
            raise TokenError("token expired")
        return TokenClaims(int(subject), version, issued_at, expires_at, kid)


def _whole(value: object) -> TypeGuard[int]:
    """An integer claim as we write them: not a bool, a float or a string."""
    return isinstance(value, int) and not isinstance(value, bool)
