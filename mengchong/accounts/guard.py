"""Who is calling: the bearer token, checked against the user's current token version on
every request, so logout and bans take effect at once, not at the token's expiry.

The version, role and ban flag of a user live in the cache port under ``auth:<user id>``.
Readers fill a missing entry with SET NX; writers (logout, ban, role change) SET it after
their commit, so a reader racing a writer can never put an older state back.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from mengchong.accounts.models import User
from mengchong.accounts.tokens import TokenClaims, TokenError
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.http.validation import GUARD_ATTR, counts_client_ip
from mengchong.keys import (
    CURRENT_USER,
    DOC_VERSION,
    KEPT_DOCUMENT,
    ROW_VERSION,
    cache_key,
    limiter_key,
    tokens_key,
    user_rows_key,
)
from mengchong.storage.cache import Cache
from mengchong.storage.database import fetch_rows
from mengchong.storage.documents import MAX_DOC_ID_LENGTH
from mengchong.storage.kept_documents import document_version_key

AUTH_STATE_TTL_SECONDS = 3600
_STATE_SQL = "SELECT token_version, role, openid, banned_at IS NOT NULL AS banned FROM users WHERE id = $1"
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="mengchong"'}


@dataclass(frozen=True)
class CurrentUser:
    id: int
    role: str
    openid: str
    token_expires_at: int
    token_version: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class AuthState:
    version: int
    role: str
    openid: str
    banned: bool

    @classmethod
    def of(cls, user: User) -> AuthState:
        return cls(user.token_version, user.role, user.openid, user.banned_at is not None)

    def as_json(self) -> list[object]:
        return [self.version, self.role, self.openid, self.banned]


def unauthorized(message: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHORIZED, message, headers=UNAUTHORIZED_HEADERS)


def auth_state_key(cache: Cache, user_id: int) -> str:
    return cache.key("auth", str(user_id))


async def publish_auth_state(cache: Cache, user: User) -> None:
    """After a commit that changed the user's version, role or ban: make it the cached truth."""
    await cache.set_json(auth_state_key(cache, user.id), AuthState.of(user).as_json(), AUTH_STATE_TTL_SECONDS)


def read_auth_state(raw: bytes) -> AuthState:
    version, role, openid, banned = orjson.loads(raw)
    return AuthState(int(version), str(role), str(openid), bool(banned))


async def fill_auth_state(cache: Cache, user_id: int) -> AuthState | None:
    """On a cache miss: the state from the database, cached unless a writer got there first."""
    # One raw statement: through the ORM's queryset this was a tenth of a check-in's time.
    rows = await fetch_rows(User._meta.db, _STATE_SQL, [user_id])
    if not rows:
        return None
    row = rows[0]
    state = AuthState(int(row["token_version"]), row["role"], row["openid"], bool(row["banned"]))
    await cache.client.set(
        auth_state_key(cache, user_id), orjson.dumps(state.as_json()), ex=AUTH_STATE_TTL_SECONDS, nx=True
    )
    return state


async def auth_state_of(app: web.Application, user_id: int) -> AuthState | None:
    """The user's auth state (cached, else from the database), for a credential other than a
    bearer token that names a token version: a signed photo URL."""
    cache = app[cache_key]
    raw = await cache.fast("GET", auth_state_key(cache, user_id))
    return read_auth_state(raw) if raw is not None else await fill_auth_state(cache, user_id)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Missing bearer token")
    return token.strip()


def verified_claims(request: web.Request) -> TokenClaims:
    try:
        return request.app[tokens_key].verify(bearer_token(request))
    except TokenError as exc:
        raise unauthorized(f"Invalid token: {exc}") from None


@counts_client_ip
async def current_user(request: web.Request) -> CurrentUser:
    """The authenticated caller (401 otherwise), after the client IP's and the user's rate
    limits: on Redis one round trip for both limits and the revocation check."""
    known = request.get(CURRENT_USER)
    if known is not None:
        return known
    app = request.app
    limiter = app[limiter_key]
    try:
        claims = verified_claims(request)
    except ApiError:
        await limiter.check_pending_ip(request)  # a bad token still counts against its IP
        raise
    cache = app[cache_key]
    admission = await limiter.admit(
        request,
        claims.user_id,
        claims.version,
        auth_state_key(cache, claims.user_id),
        app[user_rows_key].version_key(claims.user_id),
        _kept_document_key(request, cache),
    )
    if admission.row_version is not None:
        request[ROW_VERSION] = admission.row_version
    if admission.doc_version is not None:
        request[DOC_VERSION] = admission.doc_version
    if admission.state is not None:
        state: AuthState | None = read_auth_state(admission.state)
    else:
        state = await fill_auth_state(cache, claims.user_id)
    try:
        state = accepting(state, claims.version)
    except ApiError:
        await limiter.check_pending_ip(request)  # a refused token still counts against its IP
        raise
    user = CurrentUser(claims.user_id, state.role, state.openid, claims.expires_at, claims.version)
    request[CURRENT_USER] = user
    if not admission.user_checked:
        await limiter.check_user(request, user.id)  # and the client IP if still pending
    return user


def _kept_document_key(request: web.Request, cache: Cache) -> str:
    """The stored-version key of the document the route keeps (``""``: none, or an id longer
    than any document's, so that nothing is looked up for it; the script only reads the key)."""
    kept = request.get(KEPT_DOCUMENT)
    if kept is None:
        return ""
    collection, doc_id = kept
    if not 0 < len(doc_id) <= MAX_DOC_ID_LENGTH:
        return ""
    return document_version_key(cache, collection, doc_id)


def accepting(state: AuthState | None, version: int) -> AuthState:
    """The user's current auth state if it accepts a token of ``version``; 401 otherwise."""
    if state is None:
        raise unauthorized("Invalid token: unknown user")
    if state.banned:
        raise unauthorized("This account is banned")
    if state.version != version:
        raise unauthorized("Token revoked: log in again")
    return state


@counts_client_ip
async def require_admin(request: web.Request) -> CurrentUser:
    """The authenticated caller if an admin; 403 for anyone else."""
    user = await current_user(request)
    if not user.is_admin:
        raise ApiError(ErrorCode.FORBIDDEN, "Admins only")
    return user


def authenticated(handler: Handler) -> Handler:
    """Mark a route as needing a logged-in user: checked before its body is validated."""
    setattr(handler, GUARD_ATTR, current_user)
    return handler


def admin_only(handler: Handler) -> Handler:
    """Mark a route as admins only: checked before its body is validated."""
    setattr(handler, GUARD_ATTR, require_admin)
    return handler
