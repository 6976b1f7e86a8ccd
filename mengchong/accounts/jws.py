"""HS256 compact JWS (RFC 7515) with the standard library: the only signature our tokens use.

PyJWT did this before, and importing it costs the process 8.9 MB, because it imports
``cryptography`` for the algorithms we never accept; this module is what we need of it, strict
in the ways RFC 8725 asks: one algorithm, no ``crit`` extensions, canonical base64url without
padding, a constant-time comparison of the signature, JSON objects only. Claims are checked by
:mod:`mengchong.accounts.tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

ALGORITHM = "HS256"


class JwsError(Exception):
    """Not a compact HS256 JWS whose signature holds."""


def _encode_segment(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _decode_segment(segment: str) -> bytes:
    """Canonical base64url without padding only: one token has one spelling."""
    try:
        data = base64.urlsafe_b64decode(segment + "==")  # padding beyond the needed is ignored
    except ValueError:  # binascii.Error is one
        raise JwsError("bad base64url") from None
    if _encode_segment(data) != segment.encode():
        raise JwsError("bad base64url")
    return data


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is one
        raise JwsError("not JSON") from None
    if not isinstance(value, dict):
        raise JwsError("not a JSON object")
    return value


def _signature(key: str, signing_input: bytes) -> bytes:
    return hmac.new(key.encode(), signing_input, hashlib.sha256).digest()


def encode(claims: dict[str, Any], key: str, kid: str) -> str:
    """The compact serialisation of ``claims`` signed with ``key`` (header: alg, kid, typ)."""
    header = orjson.dumps({"alg": ALGORITHM, "kid": kid, "typ": "JWT"})
    signing_input = _encode_segment(header) + b"." + _encode_segment(orjson.dumps(claims))
    return (signing_input + b"." + _encode_segment(_signature(key, signing_input))).decode()


def header_of(token: str) -> dict[str, Any]:
    """The header, unverified: what names the key to check the signature with."""
    if not token.isascii() or token.count(".") != 2:
        raise JwsError("not a compact JWS")
    return _json_object(_decode_segment(token.partition(".")[0]))


def accepted(header: dict[str, Any]) -> bool:
    """The header asks for HS256 and no extension (``crit``): nothing else is ever honoured."""
    return header.get("alg") == ALGORITHM and "crit" not in header


def verified_payload(token: str, key: str) -> dict[str, Any]:
    """The payload of ``token`` if ``key`` signed it (call :func:`header_of` and :func:`accepted`
    first)."""
    header_segment, payload_segment, signature_segment = token.split(".")
    signing_input = f"{header_segment}.{payload_segment}".encode()
    if not hmac.compare_digest(_signature(key, signing_input), _decode_segment(signature_segment)):
        raise JwsError("signature does not match")
    return _json_object(_decode_segment(payload_segment))
