"""Operator passwords: argon2id (argon2-cffi's defaults, RFC 9106's low-memory choice), hashed
and checked in a worker thread so the ~50 ms of each never stalls the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 12
# Checked against when the username is unknown, so that answer takes as long as a wrong password.
_UNKNOWN = _HASHER.hash("an unknown operator's password")


def check_strength(password: str) -> str | None:
    """Why ``password`` is refused for an operator, None when it is accepted."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(set(password)) < 5:
        return "more than a few different characters"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


def _matches(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def password_matches(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (None: an unknown operator, which
    never matches but costs the same)."""
    matched = await asyncio.to_thread(_matches, stored or _UNKNOWN, password)
    return matched and stored is not None
