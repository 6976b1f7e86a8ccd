"""Client of the WeChat server API: code2Session, the stable access token, subscribe messages,
the text content check (msg_sec_check v2), and decryption of ``wx.getUserInfo`` payloads.

In ``mode = "mock"`` code2Session answers ``openid = "mock-" + code`` without a network call
(for development and the embedded default; the settings refuse it in production). Everything
else always talks to ``api_base``, which tests point at a fake server speaking the real
endpoints and error codes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from mengchong.config import WechatSettings

log = logging.getLogger("mengchong.wechat")

MOCK_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
INVALID_CODE = frozenset({40029, 40163})  # invalid code; code already used
TOO_FREQUENT = frozenset({45011})
BUSY = frozenset({-1})
TOKEN_EXPIRED = frozenset({40001, 42001, 40014})
TOKEN_CACHE_KEY = "wechat:access_token"
TOKEN_REFRESH_MARGIN_SECONDS = 300


class WechatError(Exception):
    """The WeChat API answered with an error code (or not at all: errcode -1)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def invalid_code(self) -> bool:
        return self.errcode in INVALID_CODE

    @property
    def too_frequent(self) -> bool:
        return self.errcode in TOO_FREQUENT


class DecryptError(ValueError):
    """An encryptedData/iv pair that does not decrypt to this app's JSON."""


@dataclass(frozen=True)
class WechatSession:
    openid: str
    session_key: str
    unionid: str | None = None


class TokenStore:
    """Where the access token lives between calls: the cache port when given, else memory."""

    def __init__(self, cache: Any | None) -> None:
        self._cache = cache
        self._value: str | None = None
        self._expires_at = 0.0

    async def get(self) -> str | None:
        if self._cache is not None:
            return await self._cache.get_json(self._cache.key(TOKEN_CACHE_KEY))
        loop_time = asyncio.get_running_loop().time()
        return self._value if loop_time < self._expires_at else None

    async def put(self, token: str, ttl: float) -> None:
        if self._cache is not None:
            await self._cache.set_json(self._cache.key(TOKEN_CACHE_KEY), token, ttl_seconds=ttl)
            return
        self._value, self._expires_at = token, asyncio.get_running_loop().time() + ttl

    async def drop(self) -> None:
        if self._cache is not None:
            await self._cache.delete(self._cache.key(TOKEN_CACHE_KEY))
        self._value, self._expires_at = None, 0.0


class WechatClient:
    def __init__(self, settings: WechatSettings, cache: Any | None = None) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._tokens = TokenStore(cache)
        self._token_lock = asyncio.Lock()

    @property
    def mock(self) -> bool:
        return self.settings.mode == "mock"

    async def open(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
        self._session = aiohttp.ClientSession(
            timeout=timeout, json_serialize=lambda o: orjson.dumps(o).decode()
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self, method: str, path: str, *, params: dict[str, str], json: Any = None
    ) -> dict[str, Any]:
        """One API call, retried once when WeChat is busy or does not answer in time."""
        if self._session is None:
            raise RuntimeError("WechatClient is not open")
        url = self.settings.api_base.rstrip("/") + path
        for attempt in (1, 2):
            try:
                async with self._session.request(method, url, params=params, json=json) as response:
                    if response.status >= 500:
                        raise WechatError(-1, f"HTTP {response.status}")
                    body = orjson.loads(await response.read())
            except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError, WechatError) as exc:
                error = exc if isinstance(exc, WechatError) else WechatError(-1, type(exc).__name__)
                if attempt == 2:
                    raise error from None
                log.warning("WeChat %s failed (%s), retrying once", path, error.errmsg)
                continue
            errcode = int(body.get("errcode") or 0)
            if errcode in BUSY and attempt == 1:
                log.warning("WeChat %s busy, retrying once", path)
                continue
            if errcode:
                raise WechatError(errcode, str(body.get("errmsg", "")))
            return body
        raise AssertionError("unreachable")

    async def code2session(self, code: str) -> WechatSession:
        """Exchange a ``wx.login`` code for the user's openid and session key."""
        if self.mock:
            if not MOCK_CODE.fullmatch(code):
                raise WechatError(40029, "invalid code (mock mode accepts [A-Za-z0-9_-]{1,64})")
            session_key = base64.b64encode(hashlib.sha256(code.encode()).digest()[:16]).decode()
            return WechatSession(openid=f"mock-{code}", session_key=session_key)
        body = await self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.settings.appid,
                "secret": self.settings.secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        return WechatSession(body["openid"], body["session_key"], body.get("unionid"))

    async def access_token(self, *, force_refresh: bool = False) -> str:
        """The stable access token, cached until shortly before it expires."""
        if not force_refresh and (token := await self._tokens.get()):
            return token
        async with self._token_lock:
            if not force_refresh and (token := await self._tokens.get()):
                return token
            body = await self._call(
                "POST",
                "/cgi-bin/stable_token",
                params={},
                json={
                    "grant_type": "client_credential",
                    "appid": self.settings.appid,
                    "secret": self.settings.secret,
                    "force_refresh": force_refresh,
                },
            )
            ttl = max(60, int(body.get("expires_in", 7200)) - TOKEN_REFRESH_MARGIN_SECONDS)
            await self._tokens.put(body["access_token"], ttl)
            return str(body["access_token"])

    async def _with_token(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A POST with ``access_token``, refreshed once when WeChat says it expired."""
        for attempt in (1, 2):
            token = await self.access_token(force_refresh=attempt == 2)
            try:
                return await self._call("POST", path, params={"access_token": token}, json=payload)
            except WechatError as exc:
                if exc.errcode in TOKEN_EXPIRED and attempt == 1:
                    await self._tokens.drop()
                    continue
                raise
        raise AssertionError("unreachable")

    async def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None = None
    ) -> None:
        """subscribeMessage.send; ``data`` is ``{"thing1": "text", ...}``."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            payload["page"] = page
        await self._with_token("/cgi-bin/message/subscribe/send", payload)

    async def check_text(self, content: str, openid: str, scene: int = 1) -> str:
        """msg_sec_check v2: returns WeChat's suggestion, "pass", "review" or "risky"."""
        body = await self._with_token(
            "/wxa/msg_sec_check", {"content": content, "version": 2, "scene": scene, "openid": openid}
        )
        return str(body.get("result", {}).get("suggest", "pass"))


def decrypt_user_data(session_key: str, encrypted_data: str, iv: str, appid: str) -> dict[str, Any]:
    """Decrypt ``encryptedData`` (AES-128-CBC, PKCS#7) and check its watermark names our app."""
    try:
        key = base64.b64decode(session_key, validate=True)
        vector = base64.b64decode(iv, validate=True)
        ciphertext = base64.b64decode(encrypted_data, validate=True)
        if len(key) != 16 or len(vector) != 16 or not ciphertext or len(ciphertext) % 16:
            raise DecryptError("encryptedData/iv have the wrong length")
        decryptor = Cipher(algorithms.AES(key), modes.CBC(vector)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        data = orjson.loads(unpadder.update(padded) + unpadder.finalize())
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        if isinstance(exc, DecryptError):
            raise
        raise DecryptError("encryptedData does not decrypt with this session") from None
    if not isinstance(data, dict) or data.get("watermark", {}).get("appid") != appid:
        raise DecryptError("encryptedData was made for another app")
    return data


def encrypt_user_data(session_key: str, data: dict[str, Any], iv: bytes) -> str:
    """The inverse of :func:`decrypt_user_data`, as WeChat does it (used by tests and tools)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(orjson.dumps(data)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
