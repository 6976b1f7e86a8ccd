"""The accounts routes of seed §5.1 and §5.2, plus logout and the admin ban."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, request_schema, response_schema

from mengchong.accounts import responses, schemas
from mengchong.accounts.guard import admin_only, authenticated, current_user
from mengchong.accounts.login import revoke_tokens, wechat_login
from mengchong.accounts.models import User, UserSettings
from mengchong.accounts.profiles import USERS, profile_body, profile_of, settings_view
from mengchong.http.conventions import AUTH
from mengchong.http.envelope import json_response, ok
from mengchong.http.errors import field_error
from mengchong.http.schemas import envelope, errors
from mengchong.keys import database_key, files_key
from mengchong.moderation import checked_text
from mengchong.storage.files import is_key
from mengchong.storage.transaction import touch

routes = web.RouteTableDef()


def user_info(user: User, is_new_user: bool) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "openid": user.openid,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "is_new_user": is_new_user,
    }


async def settings_of(user_id: int) -> dict[str, dict[str, bool]]:
    saved = await UserSettings.get_or_none(user_id=user_id)
    return settings_view(saved.notification_prefs, saved.privacy_prefs) if saved else settings_view({}, {})


@routes.post("/v1/auth/wechat_login")
@docs(tags=["auth"], summary="Log in (or register) with a wx.login code", responses=errors(403, 429, 502))
@response_schema(envelope(responses.LoginResult))
@request_schema(schemas.LoginBody)
async def login(request: web.Request) -> web.Response:
    body = request["data"]
    result = await wechat_login(
        request,
        body["code"],
        encrypted_data=body.get("encryptedData"),
        iv=body.get("iv"),
        agreed_privacy_policy=body["agreed_privacy_policy"],
    )
    data = {
        "token": result.token,
        "expires_in": result.expires_in,
        "user_info": user_info(result.user, result.is_new_user),
    }
    return ok(data, "Login successful")


@routes.get("/v1/auth/check_session")
@docs(tags=["auth"], summary="Is this token still valid, and for how long", security=AUTH)
@response_schema(envelope(responses.Session))
@authenticated
async def check_session(request: web.Request) -> web.Response:
    user = await current_user(request)
    expires_in = max(0, int(user.token_expires_at - time.time()))
    return ok({"user_id": str(user.id), "expires_in": expires_in}, "Session is valid")


@routes.post("/v1/auth/logout")
@docs(tags=["auth"], summary="Revoke every token of the caller", security=AUTH)
@response_schema(envelope(None))
@authenticated
async def logout(request: web.Request) -> web.Response:
    user = await current_user(request)
    await revoke_tokens(request.app, user.id)
    return ok(None, "Logged out")


@routes.post("/v1/admin/users/{user_id}/ban")
@docs(
    tags=["admin"],
    summary="Ban a user: every token of theirs stops working at once",
    security=AUTH,
    responses=errors(403, 404),
)
@response_schema(envelope(responses.BanState))
@match_info_schema(schemas.UserIdPath)
@admin_only
async def ban(request: web.Request) -> web.Response:
    admin = await current_user(request)
    user_id = request["match_info"]["user_id"]
    if user_id == admin.id:  # it would lock the admin out, with nobody left to lift it perhaps
        raise field_error("user_id", "is your own account: an admin can't ban themselves")
    user = await revoke_tokens(request.app, user_id, ban=True)
    return ok({"user_id": str(user.id), "banned": True}, "User banned")


@routes.delete("/v1/admin/users/{user_id}/ban")
@docs(
    tags=["admin"], summary="Lift a ban (the user logs in again)", security=AUTH, responses=errors(403, 404)
)
@response_schema(envelope(responses.BanState))
@match_info_schema(schemas.UserIdPath)
@admin_only
async def unban(request: web.Request) -> web.Response:
    user = await revoke_tokens(request.app, request["match_info"]["user_id"], ban=False)
    return ok({"user_id": str(user.id), "banned": False}, "Ban lifted")


@routes.get("/v1/users/profile")
@docs(tags=["users"], summary="The caller's profile and settings", security=AUTH)
@response_schema(envelope(responses.Profile))
@authenticated
async def get_profile(request: web.Request) -> web.Response:
    user = await current_user(request)
    return json_response(await profile_body(request, user.id))


@routes.put("/v1/users/profile")
@docs(
    tags=["users"],
    summary="Change nickname, avatar, gender or birthday",
    security=AUTH,
    responses=errors(422, 502),
)
@response_schema(envelope(responses.Profile))
@request_schema(schemas.ProfileUpdate)
@authenticated
async def put_profile(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = dict(request["data"])
    if "nickname" in body:
        body["nickname"] = await checked_text(
            request, "nickname", body["nickname"], user.openid, schemas.NICKNAME_MAX
        )
    if "avatar_url" in body:
        body["avatar_url"] = await checked_avatar(request, body["avatar_url"])
    if body:
        async with request.app[database_key].transaction() as connection:
            await User.filter(id=user.id).using_db(connection).update(**body)
            touch(connection, USERS, user.id)
    return ok(await profile_of(request.app, user.id), "Profile updated successfully")


def is_web_address(value: str) -> bool:
    """A URL a client can load: a host name, and no spaces or control characters anywhere."""
    try:
        host = urlsplit(value).hostname
    except ValueError:  # an unclosed IPv6 bracket, a bad port
        return False
    return bool(host) and not any(ch.isspace() or not ch.isprintable() for ch in value)


async def checked_avatar(request: web.Request, value: str) -> str:
    """An https URL, or the id of a file the files port holds."""
    if value.startswith("https://") and is_web_address(value):
        return value
    if is_key(value) and await request.app[files_key].exists(value):
        return value
    raise field_error("avatar_url", "must be an https URL or the id of an uploaded file")


@routes.post("/v1/users/avatar")
@docs(tags=["users"], summary="Set the avatar URL (after uploading the image)", security=AUTH)
@response_schema(envelope(responses.Avatar))
@request_schema(schemas.AvatarBody)
@authenticated
async def post_avatar(request: web.Request) -> web.Response:
    user = await current_user(request)
    avatar_url = await checked_avatar(request, request["data"]["avatar_url"])
    async with request.app[database_key].transaction() as connection:
        await User.filter(id=user.id).using_db(connection).update(avatar_url=avatar_url)
        touch(connection, USERS, user.id)
    return ok({"avatar_url": avatar_url}, "Avatar URL updated successfully")


@routes.get("/v1/users/settings")
@docs(tags=["users"], summary="Notification and privacy settings (defaults until saved)", security=AUTH)
@response_schema(envelope(responses.SettingsView))
@authenticated
async def get_settings(request: web.Request) -> web.Response:
    user = await current_user(request)
    return ok(await settings_of(user.id), "Settings retrieved successfully")


@routes.put("/v1/users/settings")
@docs(tags=["users"], summary="Change settings; keys not sent keep their value", security=AUTH)
@response_schema(envelope(responses.SettingsView))
@request_schema(schemas.SettingsUpdate)
@authenticated
async def put_settings(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = request["data"]
    async with request.app[database_key].transaction() as connection:
        touch(connection, USERS, user.id)  # the profile carries the settings
        saved, _ = await UserSettings.get_or_create(user_id=user.id)
        saved = await UserSettings.filter(id=saved.id).select_for_update().get()
        saved.notification_prefs = {**saved.notification_prefs, **body.get("notification_prefs", {})}
        saved.privacy_prefs = {**saved.privacy_prefs, **body.get("privacy_prefs", {})}
        await saved.save()
    return ok(await settings_of(user.id), "Settings updated successfully")
