"""The standard-library HS256 JWS against PyJWT (the reference): each reads what the other
signs, and ours refuses what RFC 8725 asks a strict reader to refuse."""

from __future__ import annotations

import base64

import jwt
import orjson
import pytest

from mengchong.accounts import jws

KEY = "k" * 40
CLAIMS = {"sub": "42", "iss": "mengchong", "aud": "mengchong-miniprogram", "iat": 1, "exp": 2, "ver": 3}


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_each_reads_what_the_other_signs():
    ours = jws.encode(CLAIMS, KEY, "k1")
    assert jwt.get_unverified_header(ours) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    options = {"verify_exp": False, "verify_aud": False}
    assert jwt.decode(ours, KEY, algorithms=["HS256"], options=options) == CLAIMS
    theirs = jwt.encode(CLAIMS, KEY, algorithm="HS256", headers={"kid": "k1"})
    assert jws.accepted(jws.header_of(theirs))
    assert jws.verified_payload(theirs, KEY) == CLAIMS


def test_a_wrong_key_or_a_changed_payload_is_refused():
    token = jws.encode(CLAIMS, KEY, "k1")
    with pytest.raises(jws.JwsError):
        jws.verified_payload(token, KEY + "x")
    head, _, signature = token.split(".")
    forged_body = segment(b'{"sub":"1"}')
    forged = f"{head}.{forged_body}.{signature}"
    with pytest.raises(jws.JwsError):
        jws.verified_payload(forged, KEY)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "kid": "k1"},
        {"alg": "HS512", "kid": "k1"},
        {"alg": "hs256", "kid": "k1"},
        {"alg": "HS256", "kid": "k1", "crit": ["exp"]},
        {"kid": "k1"},
    ],
)
def test_headers_asking_for_anything_but_plain_hs256_are_refused(header):
    token = f"{segment(orjson.dumps(header))}.{segment(orjson.dumps(CLAIMS))}."
    assert jws.header_of(token) == header
    assert not jws.accepted(jws.header_of(token))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "é.b.c",
        f"{segment(b'[1]')}.{segment(b'{}')}.",
        f"{segment(b'not json')}.{segment(b'{}')}.",
        f"{segment(b'{}')}=.{segment(b'{}')}.",  # padding: not the one spelling
        f"a.{segment(b'{}')}.",  # 4n+1 characters: no base64 at all
        f"{segment(b'{}')}.{segment(b'{}')}.x.y",  # a valid header, then too many parts
    ],
)
def test_malformed_tokens_are_refused(token):
    with pytest.raises(jws.JwsError):
        jws.header_of(token)


def test_a_signature_spelled_another_way_is_refused():
    token = jws.encode(CLAIMS, KEY, "k1")
    head, body, signature = token.split(".")
    # 32 bytes take 43 characters: the last one carries 2 unused bits that must be zero.
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = alphabet[alphabet.index(last) ^ 1]
    assert base64.urlsafe_b64decode(signature[:-1] + other + "=") == base64.urlsafe_b64decode(signature + "=")
    with pytest.raises(jws.JwsError):
        jws.verified_payload(f"{head}.{body}.{signature[:-1]}{other}", KEY)
    with pytest.raises(jws.JwsError):
        jws.verified_payload(f"{head}.{body}.{signature}==", KEY)
