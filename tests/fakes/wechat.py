"""A fake WeChat server API: the real paths, parameters and error codes of jscode2session,
stable_token, subscribeMessage.send and msg_sec_check v2, scripted per test.

Codes decide what jscode2session answers: ``code-<name>`` logs in as openid ``o-<name>``;
``invalid`` -> 40029, ``used`` -> 40163, ``frequent`` -> 45011, ``busy`` -> -1 every time,
``busy-once`` -> -1 then success, ``slow`` -> no answer within the client's timeout.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APPID = "wx-test-app"
SECRET = "test-secret"


def session_key_for(openid: str) -> str:
    return base64.b64encode(hashlib.sha256(openid.encode()).digest()[:16]).decode()


@dataclass
class FakeWechat:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    expire_next_token_use: bool = False
    risky_words: tuple[str, ...] = ("badword",)
    slow_seconds: float = 10.0
    _busy_once_seen: set[str] = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/sns/jscode2session", self.jscode2session)
        app.router.add_post("/cgi-bin/stable_token", self.stable_token)
        app.router.add_post("/cgi-bin/message/subscribe/send", self.subscribe_send)
        app.router.add_post("/wxa/msg_sec_check", self.msg_sec_check)
        return app

    def current_token(self) -> str:
        return f"token-{self.tokens_issued}"

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
        if body.get("appid") != APPID or body.get("secret") != SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        self.tokens_issued += 1
        return web.json_response({"access_token": self.current_token(), "expires_in": 7200})

    def _token_error(self, request: web.Request) -> web.Response | None:
        if self.expire_next_token_use:
            self.expire_next_token_use = False
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        if request.query.get("access_token") != self.current_token():
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return None

    async def subscribe_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("subscribe_send", body))
        if (error := self._token_error(request)) is not None:
            return error
        if not str(body.get("touser", "")).startswith("o-"):
            return web.json_response({"errcode": 40003, "errmsg": "invalid openid"})
        if body.get("touser") == "o-refuser":
            return web.json_response({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def msg_sec_check(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(("msg_sec_check", body))
        if (error := self._token_error(request)) is not None:
            return error
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        risky = any(word in body.get("content", "") for word in self.risky_words)
        suggest, label = ("risky", 20001) if risky else ("pass", 100)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label}, "trace_id": "t"}
        )
