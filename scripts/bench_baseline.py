"""Baselines for ``scripts/bench``: what bare aiohttp does on the same machine, NOT part of the product.

``python scripts/bench_baseline.py --port P --dsn postgres://... --secret S ...`` serves:

- ``GET /healthz``: the same JSON as the product's ``/healthz``, nothing else in the way.
- ``GET /v1/users/profile``: the same JWT decode (PyJWT, HS256, same key, issuer, audience and
  required claims) and the same primary-key SELECT of the user row with raw asyncpg, answered
  in the product's envelope. No cache, no access log, no request pipeline.
- ``POST /v1/pets/{pet_id}/interact``: the same JWT decode, the JSON body, and the product's two
  statements for a petting with raw asyncpg: the pet document's read, then the compare-and-set
  of the pet that inserts its history entry in the same statement. No revocation check, no rate
  limit, no validation schema, no game rules: what the database alone asks of a petting.
- ``POST /v1/checkin`` and ``GET /v1/checkin/status``: see ``scripts/bench_baseline_checkin.py``.
- ``GET /v1/mall/products`` and ``POST /v1/mall/orders``: see ``scripts/bench_baseline_mall.py``.
- ``GET /v1/leaderboards/pet_level``: see ``scripts/bench_baseline_boards.py``.

The bench starts it pinned to core 0 (``taskset -c 0``) and drives it with wrk like the product.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import jwt
import orjson
import uvloop
from aiohttp import web
from bench_baseline_boards import add_board_routes
from bench_baseline_checkin import add_checkin_routes
from bench_baseline_mall import add_mall_routes

HEALTH_BODY = orjson.dumps({"code": 0, "message": "Success", "data": {"status": "ok"}})
USER_SQL = (
    "SELECT id, nickname, avatar_url, gender, birthday, points_balance, role, token_version "
    "FROM users WHERE id = $1"
)


PET_SQL = "SELECT doc_id, data, version FROM documents WHERE collection = 'pets' AND doc_id = $1"
PET_WRITE_SQL = (
    "WITH updated AS (UPDATE documents SET data = data || $3::jsonb, version = version + 1"
    " WHERE collection = 'pets' AND doc_id = $1 AND version = $2 RETURNING doc_id, data, version),"
    " recorded AS (INSERT INTO documents (collection, doc_id, data, version)"
    " SELECT 'pet_interactions', $4, $5::jsonb, 1 FROM updated)"
    " SELECT doc_id, data, version FROM updated"
)


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def build_app(args: argparse.Namespace) -> web.Application:
    pool_key = web.AppKey("pool", asyncpg.Pool)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(body=HEALTH_BODY, content_type="application/json")

    def claims_of(request: web.Request) -> dict[str, object] | web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return json_response({"code": 40101, "message": "Missing bearer token"}, 401)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != args.kid:
                raise jwt.InvalidTokenError("unknown key")
            return jwt.decode(
                token,
                args.secret,
                algorithms=["HS256"],
                audience=args.audience,
                issuer=args.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            return json_response({"code": 40101, "message": f"Invalid token: {exc}"}, 401)

    async def profile(request: web.Request) -> web.Response:
        claims = claims_of(request)
        if isinstance(claims, web.Response):
            return claims
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

    async def interact(request: web.Request) -> web.Response:
        claims = claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        body = orjson.loads(await request.read())
        if body.get("interaction_type") != "petting":
            return json_response({"code": 40002, "message": "Unknown interaction"}, 400)
        pool = request.app[pool_key]
        async with pool.acquire() as connection:
            row = await connection.fetchrow(PET_SQL, request.match_info["pet_id"])
        pet = orjson.loads(row["data"]) if row is not None else None
        if pet is None or pet["user_id"] != int(str(claims["sub"])):
            return json_response({"code": 40401, "message": "Pet not found"}, 404)
        now = datetime.now(UTC).isoformat()
        changes = {"last_interaction_at": now, "experience": pet.get("experience", 0) + 1}
        entry = {"pet_id": row["doc_id"], "interaction_type": "petting", "created_at": now}
        async with pool.acquire() as connection:
            written = await connection.fetchrow(
                PET_WRITE_SQL,
                row["doc_id"],
                row["version"],
                orjson.dumps(changes).decode(),
                uuid.uuid4().hex,
                orjson.dumps(entry).decode(),
            )
        if written is None:
            return json_response({"code": 40901, "message": "Changed meanwhile"}, 409)
        data = {**orjson.loads(written["data"]), "id": written["doc_id"], "version": written["version"]}
        return json_response({"code": 0, "message": "Success", "data": data})

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app[pool_key] = await asyncpg.create_pool(args.dsn, min_size=args.pool, max_size=args.pool)
        yield
        await app[pool_key].close()

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/users/profile", profile)
    app.router.add_post("/v1/pets/{pet_id}/interact", interact)
    add_checkin_routes(app, pool_key, claims_of, json_response)
    add_mall_routes(app, pool_key, claims_of, json_response, args.redis_url, args.page_key)
    add_board_routes(app, pool_key, claims_of, json_response, args.redis_url, args.board_key)
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
    parser.add_argument("--redis-url", help="Redis of the cached product page")
    parser.add_argument("--page-key", help="the key of the copy of the product's cached page")
    parser.add_argument("--board-key", help="the key of the pet_level board the product built")
    args = parser.parse_args()
    # The product's event loop (mengchong.server uses uvloop), so the comparison is like for like.
    loop = uvloop.new_event_loop()
    web.run_app(build_app(args), host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
