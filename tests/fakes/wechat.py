"""A fake WeChat server API: the real paths, parameters and error codes of jscode2session,
stable_token, subscribeMessage.send and msg_sec_check v2, scripted per test.

Codes decide what jscode2session answers: ``code-<name>`` logs in as openid ``o-<name>``;
``invalid`` -> 40029, ``used`` -> 40163, ``frequent`` -> 45011, ``busy`` -> -1 every time,
``busy-once`` -> -1 then success, ``slow`` -> no answer within the client's timeout.

Tokens behave as stable_token's do: the normal mode hands out the current token while it has
more than five minutes to live (WeChat renews a token in its last five minutes, the old one
staying valid until it expires), ``force_refresh`` mints a new one and invalidates the old one.
Using a token answers 42001 once it expired (its ``expires_in`` ran out, or :meth:`expire_token`),
40001 when it was replaced by a forced refresh or never issued.

Subscribe sends follow ``send_script[openid]``, one entry popped per call: ``"http500"`` answers
HTTP 500 and ``"slow"`` sleeps ``slow_seconds`` (both before the token is checked, like a server
or network fault), ``"hold"`` waits for :meth:`release_held`; an int is answered once the token
passed (0: the send goes on as usual). Then the real checks: 40003 openid (not ``o-...``),
40037 template_id (when ``templates`` is set), 41030 page (when ``pages`` is set), 47003 data
(``thing*`` over 20 characters, ``number*`` not a number, an empty value, a bad
``miniprogram_state`` or ``lang``), 43101 for ``o-refuser``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APPID = "wx-test-app"
SECRET = "test-secret"
RENEW_BEFORE_SECONDS = 300  # the normal mode mints a new token in the current one's last 5 minutes
NUMBER = re.compile(r"-?\d+(\.\d+)?")
STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40014: "invalid access_token",
    40037: "invalid template_id",
    41030: "invalid page",
    42001: "access_token expired",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
    47003: "argument invalid!",
}


def session_key_for(openid: str) -> str:
    return base64.b64encode(hashlib.sha256(openid.encode()).digest()[:16]).decode()


def error(errcode: int, detail: str = "") -> web.Response:
    errmsg = ERRMSG.get(errcode, "error") + (f" {detail}" if detail else "")
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


def data_problem(body: dict[str, Any]) -> str | None:
    """What breaks WeChat's rules in a send's data and options (47003), or None."""
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        return "data"
    for key, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            return f"data.{key}.value is empty"
        if key.startswith("thing") and len(value) > 20:
            return f"data.{key}.value exceeds limit"
        if key.startswith("number") and not (len(value) <= 32 and NUMBER.fullmatch(value)):
            return f"data.{key}.value is not a number"
    if "miniprogram_state" in body and body["miniprogram_state"] not in STATES:
        return "miniprogram_state"
    if "lang" in body and body["lang"] not in LANGS:
        return "lang"
    return None


@dataclass
class FakeWechat:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0  # tokens minted
    stable_token_calls: int = 0
    token_expires_in: int = 7200
    token_delay: float = 0.0  # stable_token sleeps this long before answering
    expire_next_token_use: bool = False  # the next use of any token answers 42001, once
    token_errors: list[int] = field(default_factory=list)  # the next uses answer these, one each
    send_script: dict[str, list[int | str]] = field(default_factory=dict)
    templates: set[str] | None = None  # the template ids WeChat knows; None: any
    pages: set[str] | None = None  # the mini program's pages; None: any
    risky_words: tuple[str, ...] = ("badword",)
    slow_seconds: float = 10.0
    _busy_once_seen: set[str] = field(default_factory=set)
    _expiry: dict[str, float] = field(default_factory=dict)  # token -> loop time it expires
    _revoked: set[str] = field(default_factory=set)
    _released: asyncio.Event | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/sns/jscode2session", self.jscode2session)
        app.router.add_post("/cgi-bin/stable_token", self.stable_token)
        app.router.add_post("/cgi-bin/message/subscribe/send", self.subscribe_send)
        app.router.add_post("/wxa/msg_sec_check", self.msg_sec_check)
        return app

    def current_token(self) -> str:
        return f"token-{self.tokens_issued}"

    def expire_token(self) -> None:
        """The current token expires now: its next use answers 42001."""
        self._expiry[self.current_token()] = 0.0

    def release_held(self) -> None:
        """Let every send waiting on a ``"hold"`` entry (and any later one) go on."""
        self._held().set()

    def _held(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
        return self._released

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def jscode2session(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.calls.append(("jscode2session", query))
        if query.get("appid") != APPID or query.get("secret") != SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("grant_type") != "authorization_code":
            return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
        code = query.get("js_code", "")
        if code == "slow":
            await asyncio.sleep(self.slow_seconds)
        scripted = {
            "invalid": (40029, "invalid code"),
            "used": (40163, "code been used"),
            "frequent": (45011, "api minute-quota reach limit"),
            "busy": (-1, "system error"),
        }
        if code in scripted:
            errcode, errmsg = scripted[code]
            return web.json_response({"errcode": errcode, "errmsg": errmsg})
        if code == "busy-once" and code not in self._busy_once_seen:
            self._busy_once_seen.add(code)
            return web.json_response({"errcode": -1, "errmsg": "system error"})
        if code == "http500":
            return web.Response(status=500, text="upstream down")
        name = code.removeprefix("code-")
        openid = f"o-{name}"
        return web.json_response({"openid": openid, "session_key": session_key_for(openid)})

    async def stable_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("stable_token", body))
        self.stable_token_calls += 1
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        if body.get("appid") != APPID or body.get("secret") != SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if body.get("grant_type") != "client_credential":
            return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
        current, now = self.current_token(), self._now()
        left = self._expiry.get(current, 0.0) - now
        if body.get("force_refresh") is True:
            self._revoked.add(current)
        elif current not in self._revoked and left > min(RENEW_BEFORE_SECONDS, self.token_expires_in / 2):
            return web.json_response({"access_token": current, "expires_in": int(left)})
        self.tokens_issued += 1
        self._expiry[self.current_token()] = now + self.token_expires_in
        return web.json_response({"access_token": self.current_token(), "expires_in": self.token_expires_in})

    def _token_error(self, request: web.Request) -> web.Response | None:
        if self.expire_next_token_use:
            self.expire_next_token_use = False
            return error(42001)
        if self.token_errors:
            return error(self.token_errors.pop(0))
        token = request.query.get("access_token", "")
        if token not in self._expiry or token in self._revoked:
            return error(40001)
        if self._now() >= self._expiry[token]:
            return error(42001)
        return None

    async def subscribe_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("subscribe_send", body))
        script = self.send_script.get(str(body.get("touser", "")), [])
        while script and script[0] in ("http500", "slow", "hold"):
            step = script.pop(0)
            if step == "http500":
                return web.Response(status=500, text="upstream down")
            if step == "slow":
                await asyncio.sleep(self.slow_seconds)
            else:
                await self._held().wait()
        if (refused := self._token_error(request)) is not None:
            return refused
        if script and isinstance(script[0], int) and (errcode := script.pop(0)):
            return error(errcode)
        if not str(body.get("touser", "")).startswith("o-"):
            return error(40003)
        if self.templates is not None and body.get("template_id") not in self.templates:
            return error(40037)
        if self.pages is not None and "page" in body and body["page"].split("?")[0] not in self.pages:
            return error(41030)
        if (problem := data_problem(body)) is not None:
            return error(47003, problem)
        if body.get("touser") == "o-refuser":
            return error(43101)
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def msg_sec_check(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("msg_sec_check", body))
        if (refused := self._token_error(request)) is not None:
            return refused
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        risky = any(word in body.get("content", "") for word in self.risky_words)
        suggest, label = ("risky", 20001) if risky else ("pass", 100)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label}, "trace_id": "t"}
        )
