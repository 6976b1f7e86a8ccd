"""Client of the WeChat server API: code2Session, the stable access token, subscribe messages,
the text content check (msg_sec_check v2), and decryption of ``wx.getUserInfo`` payloads.

In ``mode = "mock"`` code2Session answers ``openid = "mock-" + code`` without a network call
(for development and the embedded default; the settings refuse it in production). Everything
else always talks to ``api_base``, which tests point at a fake server speaking the real
endpoints and error codes.

The access token is shared by every process through the cache port and fetched by one process
at a time (the cache's lock), so a fleet of servers asks ``stable_token`` once per token, not
once per process.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from redis.exceptions import LockError

from mengchong.config import WechatSettings

log = logging.getLogger("mengchong.wechat")

MOCK_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
INVALID_CODE = frozenset({40029, 40163})  # invalid code; code already used
TOO_FREQUENT = frozenset({45011})
BUSY = frozenset({-1})  # system busy; also what a timeout, a network error or an HTTP 5xx becomes
TOKEN_EXPIRED = frozenset({40001, 42001, 40014})  # invalid credential; expired; invalid token
# What a caller (the notifications consumer) does with a failed send: try again later; drop the
# message because the user said no; drop it because our request was wrong (a bug to log).
TRANSIENT = BUSY | {45009}  # 45009: daily API quota reached
REFUSED = frozenset({43101})  # the user refused (or used up) the subscription
BAD_REQUEST = frozenset({40003, 47003, 40037, 41030})  # openid, data, template_id, page
TOKEN_CACHE_KEY = "wechat:access_token"
TOKEN_LOCK_NAME = "wechat-token"
TOKEN_REFRESH_MARGIN_SECONDS = 300
# A refresh is at most two stable_token calls (normal, then forced) of two attempts each
# (``_call`` retries once), each attempt within ``timeout_seconds``, plus the cache's round trips:
# the lock is held that long at most, and a waiter waits a little longer, so a holder that died
# only delays the others.
LOCK_SLACK_SECONDS = 1.0
# KEYS[1] the token's key, ARGV[1] the JSON of the token that failed: delete it only if it is
# still that one (another process may already have put a fresh token there).
DROP_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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

    @property
    def token_expired(self) -> bool:
        return self.errcode in TOKEN_EXPIRED

    @property
    def transient(self) -> bool:
        """Busy, no answer, HTTP 5xx or the daily quota: the same call may succeed later."""
        return self.errcode in TRANSIENT

    @property
    def refused(self) -> bool:
        """The user refused the subscribe message: never retry it."""
        return self.errcode in REFUSED

    @property
    def bad_request(self) -> bool:
        """WeChat rejected what we sent (openid, data, template, page): retrying cannot help."""
        return self.errcode in BAD_REQUEST


class DecryptError(ValueError):
    """An encryptedData/iv pair that does not decrypt to this app's JSON."""


@dataclass(frozen=True)
class WechatSession:
    openid: str
    session_key: str
    unionid: str | None = None


class TokenStore:
    """Where the access token lives between calls: the cache port when given (shared by every
    process), else this process's memory."""

    def __init__(self, cache: Any | None) -> None:
        self._cache = cache
        self._value: str | None = None
        self._expires_at = 0.0
        self._drop_if_same = cache.client.register_script(DROP_IF_SAME) if cache is not None else None

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

    async def drop(self, token: str) -> None:
        """Forget ``token``, WeChat refused it, unless a newer one has taken its place."""
        if self._drop_if_same is not None:
            await self._drop_if_same(keys=[self._cache.key(TOKEN_CACHE_KEY)], args=[orjson.dumps(token)])
        elif self._value == token:
            self._value, self._expires_at = None, 0.0

    @asynccontextmanager
    async def refreshing(self, hold_seconds: float, wait_seconds: float) -> AsyncIterator[None]:
        """Held while asking WeChat for a token: the cache's lock, one process at a time; a lock
        not obtained within ``wait_seconds`` is WechatError(-1)."""
        if self._cache is None:
            yield
            return
        lock = self._cache.lock(TOKEN_LOCK_NAME, timeout=hold_seconds, blocking_timeout=wait_seconds)
        if not await lock.acquire():
            raise WechatError(-1, f"access token lock not obtained within {wait_seconds:g} s")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:  # held past its timeout: it expired, maybe another holder has it now
                log.warning("the access token lock expired before this refresh released it")


class WechatClient:
    def __init__(self, settings: WechatSettings, cache: Any | None = None) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._tokens = TokenStore(cache)
        self._token_lock = asyncio.Lock()  # one refresh per process: its coroutines don't all poll the lock
        self._lock_hold = 4 * settings.timeout_seconds + LOCK_SLACK_SECONDS
        self._lock_wait = self._lock_hold + LOCK_SLACK_SECONDS

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
        """The stable access token, cached until shortly before it expires; ``force_refresh``
        asks WeChat for a new one whatever is cached (which invalidates the old one)."""
        if not force_refresh and (token := await self._tokens.get()):
            return token
        return await self._refresh(force=force_refresh)

    async def _refresh(self, failed: str | None = None, *, force: bool = False) -> str:
        """A token that is not ``failed``: the one another coroutine or process has just cached,
        else WeChat's. Only one process at a time asks WeChat."""
        async with self._token_lock:
            if not force and (token := await self._tokens.get()) and token != failed:
                return token
            async with self._tokens.refreshing(self._lock_hold, self._lock_wait):
                # Read again under the shared lock: another process may have refreshed meanwhile.
                if not force and (token := await self._tokens.get()) and token != failed:
                    return token
                body = await self._stable_token(force)
                if body["access_token"] == failed and not force:
                    # WeChat still hands out the token it refused: only a forced refresh replaces
                    # it. Forcing is limited (20 a day, 30 s apart) and invalidates the token for
                    # every holder, so it is the last resort, never the first answer to 40001.
                    body = await self._stable_token(True)
                expires_in = int(body.get("expires_in", 7200))
                ttl = max(expires_in - TOKEN_REFRESH_MARGIN_SECONDS, expires_in / 2)
                await self._tokens.put(str(body["access_token"]), ttl)
                return str(body["access_token"])

    async def _stable_token(self, force_refresh: bool) -> dict[str, Any]:
        return await self._call(
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

    async def _with_token(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A POST with ``access_token``; when WeChat says the token is invalid or expired, that
        token is dropped (if still cached) and the call is made once more with a new one."""
        token = await self.access_token()
        try:
            return await self._call("POST", path, params={"access_token": token}, json=payload)
        except WechatError as exc:
            if not exc.token_expired:
                raise
        await self._tokens.drop(token)
        token = await self._refresh(token)
        return await self._call("POST", path, params={"access_token": token}, json=payload)

    async def send_subscribe_message(
        self,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
        *,
        miniprogram_state: str | None = None,
        lang: str | None = None,
    ) -> None:
        """subscribeMessage.send; ``data`` is ``{"thing1": "text", ...}``; ``miniprogram_state``
        is "developer", "trial" or "formal" (WeChat's default), ``lang`` e.g. "zh_CN"."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            payload["page"] = page
        if miniprogram_state:
            payload["miniprogram_state"] = miniprogram_state
        if lang:
            payload["lang"] = lang
        await self._with_token("/cgi-bin/message/subscribe/send", payload)

    async def check_text(self, content: str, openid: str, scene: int = 1) -> str:
        """msg_sec_check v2: returns WeChat's suggestion, "pass", "review" or "risky"."""
        body = await self._with_token(
            "/wxa/msg_sec_check", {"content": content, "version": 2, "scene": scene, "openid": openid}
        )
        return str(body.get("result", {}).get("suggest", "pass"))


def decrypt_user_data(session_key: str, encrypted_data: str, iv: str, appid: str) -> dict[str, Any]:
    """Decrypt ``encryptedData`` (AES-128-CBC, PKCS#7) and check its watermark names our app."""
    # Imported here: cryptography costs the process ~6 MB, and only a first login with
    # encryptedData needs it.
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    padded = padder.update(orjson.dumps(data)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
