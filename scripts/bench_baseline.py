"""Baselines for ``scripts/bench``: what bare aiohttp does on the same machine, NOT part of the product.

``python scripts/bench_baseline.py --port P --dsn postgres://... --secret S ...`` serves:

- ``GET /healthz``: the same JSON as the product's ``/healthz``, nothing else in the way.
- ``GET /v1/users/profile``: the same JWT decode (PyJWT, HS256, same key, issuer, audience and
  required claims) and the same primary-key SELECT of the user row with raw asyncpg, answered
  in the product's envelope. No cache, no access log, no middlewares.

The bench starts it pinned to core 0 (``taskset -c 0``) and drives it with wrk like the product.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import asyncpg
import jwt
import orjson
import uvloop
from aiohttp import web

HEALTH_BODY = orjson.dumps({"code": 0, "message": "Success", "data": {"status": "ok"}})
USER_SQL = (
    "SELECT id, nickname, avatar_url, gender, birthday, points_balance, role, token_version "
    "FROM users WHERE id = $1"
)


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def build_app(args: argparse.Namespace) -> web.Application:
    pool_key = web.AppKey("pool", asyncpg.Pool)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(body=HEALTH_BODY, content_type="application/json")

    async def profile(request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return json_response({"code": 40101, "message": "Missing bearer token"}, 401)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != args.kid:
                raise jwt.InvalidTokenError("unknown key")
            claims = jwt.decode(
                token,
                args.secret,
                algorithms=["HS256"],
                audience=args.audience,
                issuer=args.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            return json_response({"code": 40101, "message": f"Invalid token: {exc}"}, 401)
        async with request.app[pool_key].acquire() as connection:
            row = await connection.fetchrow(USER_SQL, int(claims["sub"]))
        if row is None or row["token_version"] != int(claims.get("ver", 0)):
            return json_response({"code": 40101, "message": "Invalid token"}, 401)
        data = {
            "user_id": str(row["id"]),
            "nickname": row["nickname"],
            "avatar_url": row["avatar_url"],
            "gender": row["gender"],
            "birthday": row["birthday"].isoformat() if row["birthday"] else None,
            "points_balance": row["points_balance"],
            "role": row["role"],
        }
        return json_response({"code": 0, "message": "Success", "data": data})

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app[pool_key] = await asyncpg.create_pool(args.dsn, min_size=args.pool, max_size=args.pool)
        yield
        await app[pool_key].close()

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/users/profile", profile)
    app.cleanup_ctx.append(pool_ctx)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--kid", default="k1")
    parser.add_argument("--issuer", default="mengchong")
    parser.add_argument("--audience", default="mengchong-miniprogram")
    parser.add_argument("--pool", type=int, default=10, help="asyncpg pool size (the product's pool_max)")
    args = parser.parse_args()
    # The product's event loop (mengchong.server uses uvloop), so the comparison is like for like.
    loop = uvloop.new_event_loop()
    web.run_app(build_app(args), host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
