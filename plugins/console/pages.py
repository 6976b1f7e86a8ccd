"""The console's pages under /admin: sign in and out, the dashboard, users (search, a user's
points, ledger, items; ban, lift a ban, adjust points), the audit log, and the plugins with the
effective settings. Every page but the sign-in needs a signed-in operator (others are sent to
the sign-in); every form POST carries the session's CSRF token."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from aiohttp import web

from mengchong import plugin_settings
from mengchong.accounts.models import User
from mengchong.economy.points import InsufficientPoints, RefReused
from mengchong.keys import plugin_settings_key, plugins_key, settings_key
from mengchong.settings_view import visible_settings
from mengchong_plugins.console import audit, sections, service
from mengchong_plugins.console.render import page, redirect
from mengchong_plugins.console.sections import offset_of
from mengchong_plugins.console.sessions import (
    CSRF_FIELD,
    SignedIn,
    SignInRefused,
    clear_cookie,
    csrf_holds,
    set_cookie,
    sign_in,
    sign_out,
    signed_in,
)
from mengchong_plugins.console.settings import ConsoleSettings

routes = web.RouteTableDef()
LOGIN_COOKIE = "mengchong_console_login"  # the sign-in form's double-submit token
Handler = Callable[[web.Request, SignedIn], Awaitable[web.StreamResponse]]


def operator_page(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page for signed-in operators: others are sent to the sign-in page (and back after); a
    POST without the session's CSRF token is refused 403 and does nothing."""

    async def page_handler(request: web.Request) -> web.StreamResponse:
        who = await signed_in(request)
        if who is None:
            return redirect(f"/admin/login?next={quote(request.path_qs, safe='')}")
        found = sections.sections_of(request.app)
        who = replace(who, sections=tuple((slug, section.title) for slug, section in found.items()))
        if request.method == "POST":
            form = await request.post()
            if not csrf_holds(form.get(CSRF_FIELD), who):
                return page("message.html", status=403, who=None, title="Refused", text=CSRF_REFUSED)
            request["form"] = form
        return await handler(request, who)

    return page_handler


CSRF_REFUSED = "This form is out of date or did not come from the console. Reload the page and try again."


def safe_next(target: object) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if isinstance(target, str) and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin"


@routes.get("/admin/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    if await signed_in(request) is not None:
        return redirect(safe_next(request.query.get("next")))
    token = secrets.token_urlsafe(24)
    response = page(
        "login.html", who=None, next=safe_next(request.query.get("next")), token=token, error=None
    )
    response.set_cookie(
        LOGIN_COOKIE, token, path="/admin/login", httponly=True, samesite="Strict", max_age=3600
    )
    return response


@routes.post("/admin/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    target = safe_next(form.get("next"))
    sent, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        return page("message.html", status=403, who=None, title="Refused", text=CSRF_REFUSED)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    try:
        token, _who = await sign_in(request.app, username[:64], password[:1024])
    except SignInRefused as refused:
        again = page("login.html", status=401, who=None, next=target, token=expected, error=str(refused))
        return again
    response = redirect(target)
    set_cookie(request, response, token)
    response.del_cookie(LOGIN_COOKIE, path="/admin/login")
    return response


@routes.post("/admin/logout")
@operator_page
async def logout(request: web.Request, who: SignedIn) -> web.StreamResponse:
    await sign_out(request)
    response = redirect("/admin/login")
    clear_cookie(response)
    return response


@routes.get("/admin")
@operator_page
async def dashboard(request: web.Request, who: SignedIn) -> web.StreamResponse:
    return page("dashboard.html", who=who, numbers=await service.numbers(request.app))


@routes.get("/admin/users")
@operator_page
async def users(request: web.Request, who: SignedIn) -> web.StreamResponse:
    query = request.query.get("q", "")[:100]
    return page("users.html", who=who, query=query, users=await service.search_users(query))


def not_found(who: SignedIn, title: str, text: str) -> web.Response:
    return page("message.html", status=404, who=who, title=title, text=text)


def no_such_user(who: SignedIn) -> web.Response:
    return not_found(who, "No such user", "There is no user with this id.")


async def user_or_none(request: web.Request) -> User | None:
    raw = request.match_info["user_id"]
    if not raw.isdigit() or len(raw) > 18:
        return None
    return await User.get_or_none(id=int(raw))


@routes.get("/admin/users/{user_id}")
@operator_page
async def user_page(request: web.Request, who: SignedIn) -> web.StreamResponse:
    return await show_user(request, who)


async def show_user(
    request: web.Request,
    who: SignedIn,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    user = await user_or_none(request)
    if user is None:
        return no_such_user(who)
    size = plugin_settings(request.app, ConsoleSettings).page_size
    number, offset = offset_of(request, size)
    ledger, total = await service.ledger_page(user.id, offset, size)
    context: dict[str, Any] = {
        "who": who,
        "user": user,
        "ledger": ledger,
        "page": number,
        "pages": max(1, -(-total // size)),
        "items": await service.inventory(request.app, user.id),
        "panels": await service.user_panels(request.app, user.id),
        "form_key": uuid.uuid4(),  # the points form's idempotency key: one change per form
        "notice": notice,
        "error": error,
    }
    return page("user.html", status=status, **context)


@routes.post("/admin/users/{user_id}/ban")
@operator_page
async def ban(request: web.Request, who: SignedIn) -> web.StreamResponse:
    return await change_ban(request, who, True)


@routes.post("/admin/users/{user_id}/unban")
@operator_page
async def unban(request: web.Request, who: SignedIn) -> web.StreamResponse:
    return await change_ban(request, who, False)


async def change_ban(request: web.Request, who: SignedIn, banned: bool) -> web.StreamResponse:
    user = await user_or_none(request)
    if user is None:
        return no_such_user(who)
    await service.set_banned(request.app, who.operator, user, banned)
    return redirect(f"/admin/users/{user.id}")


@routes.post("/admin/users/{user_id}/points")
@operator_page
async def points(request: web.Request, who: SignedIn) -> web.StreamResponse:
    form = request["form"]
    user = await user_or_none(request)
    if user is None:
        return no_such_user(who)
    raw_delta, reason, key = (
        str(form.get("delta", "")).strip(),
        str(form.get("reason", "")).strip(),
        form.get("form_key"),
    )
    try:
        delta = int(raw_delta)
        form_key = str(uuid.UUID(str(key)))
    except ValueError:
        return await show_user(request, who, error="The change must be a whole number of points.", status=400)
    if delta == 0 or abs(delta) > 10_000_000:
        return await show_user(
            request, who, error="The change must be between 1 and 10,000,000 points, up or down.", status=400
        )
    if not reason or len(reason) > 32:
        return await show_user(request, who, error="A reason of 1 to 32 characters is required.", status=400)
    try:
        result = await service.adjust(request.app, who.operator, user.id, delta, reason, form_key)
    except InsufficientPoints:
        return await show_user(request, who, error="The user does not have that many points.", status=422)
    except RefReused:
        return await show_user(
            request, who, error="This form was already used for another change.", status=422
        )
    del result  # the page shows the new balance either way: a replayed form changed nothing
    return redirect(f"/admin/users/{user.id}")


@routes.get("/admin/audit")
@operator_page
async def audit_log(request: web.Request, who: SignedIn) -> web.StreamResponse:
    size = plugin_settings(request.app, ConsoleSettings).page_size
    number, offset = offset_of(request, size)
    entries, total = await audit.page(offset, size)
    return page("audit.html", who=who, entries=entries, page=number, pages=max(1, -(-total // size)))


@routes.get("/admin/plugins")
@operator_page
async def plugins(request: web.Request, who: SignedIn) -> web.StreamResponse:
    app = request.app
    shown = visible_settings(app[settings_key], app[plugin_settings_key])
    return page("plugins.html", who=who, plugins=app[plugins_key], settings=shown)


@routes.get("/admin/s/{slug}")
@operator_page
async def section_page(request: web.Request, who: SignedIn) -> web.StreamResponse:
    section = sections.sections_of(request.app).get(request.match_info["slug"])
    if section is None:
        return not_found(who, "No such page", "No plugin shows this page.")
    return await sections.show(request, who, section)


@routes.post("/admin/s/{slug}/{action}")
@operator_page
async def section_action(request: web.Request, who: SignedIn) -> web.StreamResponse:
    section = sections.sections_of(request.app).get(request.match_info["slug"])
    actions = {action.name: action for action in section.actions} if section else {}
    action = actions.get(request.match_info["action"])
    if section is None or action is None:
        return not_found(who, "No such form", "No plugin takes this form.")
    return await sections.run(request, who, section, action)
