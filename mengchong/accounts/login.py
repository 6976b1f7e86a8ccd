"""WeChat login: code2Session, then exactly one user per openid however many first logins
race, a login log row either way, and a token carrying the user's current token version.
Logout and bans bump that version, which revokes every token issued before."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from tortoise.expressions import F

from mengchong.accounts.guard import publish_auth_state
from mengchong.accounts.models import User, UserLoginLog
from mengchong.accounts.profiles import USERS
from mengchong.events import UserBanned, UserCreated, UserUnbanned, record_event
from mengchong.http.client_ip import client_ip
from mengchong.http.errors import ApiError, ErrorCode, FieldError, field_error, not_found
from mengchong.http.text import storable
from mengchong.keys import cache_key, database_key, settings_key, tokens_key, wechat_key, word_filter_key
from mengchong.storage.database import fetch_rows
from mengchong.storage.transaction import touch
from mengchong.wechat import DecryptError, WechatError, decrypt_user_data

log = logging.getLogger("mengchong.accounts")


@dataclass(frozen=True)
class LoginResult:
    user: User
    is_new_user: bool
    token: str
    expires_in: int


def wechat_failure(exc: WechatError) -> ApiError:
    """WeChat's error codes in our terms: a bad code is the client's, throttling and outages are not."""
    if exc.invalid_code:
        return field_error("code", f"WeChat rejected the code ({exc.errcode})")
    if exc.too_frequent:
        return ApiError(
            ErrorCode.RATE_LIMITED,
            "WeChat says too many logins; try again shortly",
            headers={"Retry-After": "60"},
        )
    return ApiError(ErrorCode.WECHAT_FAILED, f"WeChat login failed ({exc.errcode}); try again", status=502)


INSERT_USER_IF_ABSENT = (
    "INSERT INTO users (openid, session_key, role, created_at, last_login_at, "
    "nickname, avatar_url, gender, points_balance, token_version) "
    "VALUES ($1, $2, $3, $4, $5, '', '', 0, 0, 0) ON CONFLICT (openid) DO NOTHING RETURNING id"
)


async def insert_user_if_absent(app: web.Application, openid: str, session_key: str, role: str) -> int | None:
    """The new user's id, or None when the openid already has a user (one statement, race-free)."""
    database = app[database_key]
    now = datetime.now(UTC)
    rows = await fetch_rows(database.connection, INSERT_USER_IF_ABSENT, [openid, session_key, role, now, now])
    return int(rows[0]["id"]) if rows else None


def profile_from_encrypted(
    app: web.Application, session_key: str, encrypted_data: str, iv: str
) -> dict[str, str]:
    """Nickname and avatar from ``wx.getUserInfo``'s encryptedData; a bad payload is a 400."""
    appid = app[settings_key].wechat.appid
    try:
        data = decrypt_user_data(session_key, encrypted_data, iv, appid)
    except DecryptError as exc:
        raise ApiError(ErrorCode.BAD_FIELD, str(exc), [FieldError("encryptedData", str(exc))]) from None
    nickname = str(data.get("nickName", "")).strip()[:20]
    avatar = str(data.get("avatarUrl", ""))
    profile: dict[str, str] = {}
    if nickname and app[word_filter_key].is_clean(nickname):
        profile["nickname"] = nickname
    if avatar.startswith("https://") and len(avatar) <= 512:
        profile["avatar_url"] = avatar
    return profile


async def wechat_login(
    request: web.Request,
    code: str,
    *,
    encrypted_data: str | None = None,
    iv: str | None = None,
    agreed_privacy_policy: bool = False,
) -> LoginResult:
    app = request.app
    settings = app[settings_key]
    try:
        session = await app[wechat_key].code2session(code)
    except WechatError as exc:
        log.warning("code2Session failed: %s", exc, extra={"errcode": exc.errcode})
        raise wechat_failure(exc) from None
    role = "admin" if session.openid in settings.auth.admin_openids else "user"
    now = datetime.now(UTC)
    database = app[database_key]
    async with database.transaction() as connection:
        new_id = await insert_user_if_absent(app, session.openid, session.session_key, role)
        user = await User.get(openid=session.openid).select_for_update()
        changes: dict[str, object] = {"session_key": session.session_key, "last_login_at": now, "role": role}
        if new_id is not None:
            if encrypted_data and iv:
                changes.update(profile_from_encrypted(app, session.session_key, encrypted_data, iv))
            if agreed_privacy_policy:
                changes["agreed_privacy_policy_at"] = now
        elif agreed_privacy_policy and user.agreed_privacy_policy_at is None:
            changes["agreed_privacy_policy_at"] = now
        if user.banned_at is not None:
            raise ApiError(ErrorCode.FORBIDDEN, "This account is banned")
        role_changed = user.role != role
        await User.filter(id=user.id).update(**changes)
        touch(connection, USERS, user.id)  # the role, and a new user's nickname and avatar
        for key, value in changes.items():
            setattr(user, key, value)
        await UserLoginLog.create(
            user_id=user.id,
            is_new_user=new_id is not None,
            ip=client_ip(request, settings.ratelimit)[:64],
            user_agent=storable(request.headers.get("User-Agent", ""))[:256],
        )
        if new_id is not None:
            await record_event(connection, UserCreated(user_id=user.id, role=role))
    if role_changed:
        await publish_auth_state(app[cache_key], user)
    token, expires_in = app[tokens_key].issue(user.id, user.token_version)
    return LoginResult(user, new_id is not None, token, expires_in)


async def revoke_tokens(app: web.Application, user_id: int, *, ban: bool | None = None) -> User:
    """Bump the user's token version (every earlier token stops working); optionally (un)ban."""
    changes: dict[str, object] = {"token_version": F("token_version") + 1}
    if ban is not None:
        changes["banned_at"] = datetime.now(UTC) if ban else None
    async with app[database_key].transaction() as connection:
        if not await User.filter(id=user_id).using_db(connection).update(**changes):
            raise not_found("User")
        user = await User.get(id=user_id).using_db(connection)
        if ban is not None:
            touch(connection, USERS, user_id)  # the boards' kept copies show the ban
            await record_event(
                connection, UserBanned(user_id=user_id) if ban else UserUnbanned(user_id=user_id)
            )
    await publish_auth_state(app[cache_key], user)
    return user
