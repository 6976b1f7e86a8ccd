"""Signing operators in and out: passwords with a lockout after repeated failures, sessions kept
in the database behind an HttpOnly, SameSite=Strict cookie (Secure outside development and tests),
and the per-session CSRF token every form carries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from tortoise.expressions import F

from mengchong import plugin_settings
from mengchong.keys import settings_key
from mengchong_plugins.console.models import Operator, OperatorSession
from mengchong_plugins.console.passwords import password_matches
from mengchong_plugins.console.settings import ConsoleSettings

COOKIE = "mengchong_console"
CSRF_FIELD = "_csrf"


@dataclass(frozen=True)
class SignedIn:
    """The operator of a request, its session's CSRF token, and the plugins' console sections
    (slug, title) for the page's navigation."""

    operator: Operator
    csrf_token: str
    sections: tuple[tuple[str, str], ...] = ()


class SignInRefused(Exception):
    """Wrong username or password, or a locked account: the message says which it may show."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def sign_in(app: web.Application, username: str, password: str) -> tuple[str, SignedIn]:
    """Check the password; the new session's cookie token and who signed in. Each wrong password
    counts; ``lockout_failures`` in a row lock the account for ``lockout_minutes``, and a locked
    account is refused whatever the password."""
    settings = plugin_settings(app, ConsoleSettings)
    operator = await Operator.get_or_none(username=username)
    matched = await password_matches(operator.password_hash if operator else None, password)
    now = _now()
    if operator is None:
        raise SignInRefused("Wrong username or password")
    if operator.locked_until is not None and operator.locked_until > now:
        raise SignInRefused("This account is locked after too many wrong passwords; try again later")
    if not matched:
        # Counted in the database (two wrong guesses at once both count), then locked once enough.
        await Operator.filter(id=operator.id).update(failed_logins=F("failed_logins") + 1)
        failures = (await Operator.get(id=operator.id)).failed_logins
        if failures >= settings.lockout_failures:
            locked = now + timedelta(minutes=settings.lockout_minutes)
            await Operator.filter(id=operator.id).update(failed_logins=0, locked_until=locked)
        raise SignInRefused("Wrong username or password")
    token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await OperatorSession.create(
        token_hash=_digest(token),
        operator_id=operator.id,
        csrf_token=csrf_token,
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_hours),
    )
    await Operator.filter(id=operator.id).update(failed_logins=0, locked_until=None, last_login_at=now)
    return token, SignedIn(operator, csrf_token)


async def signed_in(request: web.Request) -> SignedIn | None:
    """The operator whose unexpired session the request's cookie names, if any."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    session = await OperatorSession.get_or_none(token_hash=_digest(token)).select_related("operator")
    if session is None or session.expires_at <= _now():
        return None
    return SignedIn(session.operator, session.csrf_token)


async def sign_out(request: web.Request) -> None:
    if token := request.cookies.get(COOKIE):
        await OperatorSession.filter(token_hash=_digest(token)).delete()


def csrf_holds(form_token: object, who: SignedIn) -> bool:
    return isinstance(form_token, str) and hmac.compare_digest(form_token, who.csrf_token)


def set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    settings = plugin_settings(request.app, ConsoleSettings)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=request.app[settings_key].app.env not in ("development", "test"),
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/admin")
