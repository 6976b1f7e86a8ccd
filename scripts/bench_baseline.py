"""Baselines for ``scripts/bench``: what bare Python does on the same machine, NOT part of the product.

``python scripts/bench_baseline.py --port P --dsn postgres://... --secret S ...`` serves:

- ``GET /healthz``: the same JSON as the product's ``/healthz``, nothing else in the way.
- ``GET /v1/users/profile``: the same JWT checks (PyJWT, HS256, same key, issuer, audience and
  required claims) and the primary-key SELECT of the user row with raw asyncpg, answered in the
  product's envelope. No cache, no access log, no request pipeline.
- ``POST /v1/pets/{pet_id}/interact``: the same JWT decode, the JSON body, and the product's two
  statements for a petting with raw asyncpg: the pet document's read, then the compare-and-set
  of the pet that inserts its history entry in the same statement. No revocation check, no rate
  limit, no validation schema, no game rules: what the database alone asks of a petting.
- ``POST /v1/checkin`` and ``GET /v1/checkin/status``: see ``scripts/bench_baseline_checkin.py``.
- ``GET /v1/mall/products`` and ``POST /v1/mall/orders``: see ``scripts/bench_baseline_mall.py``.
- ``GET /v1/leaderboards/pet_level``: see ``scripts/bench_baseline_boards.py``.

Every baseline is served the way the "Python ceiling" (``../shared/peers/nestjs/aiohttp_ceiling.py``)
serves: aiohttp's low-level server, connection pools without a reset round trip, the token
decoded on every request (``scripts/bench_bare.py``). The bench starts it pinned to core 0
(``taskset -c 0``) beside the product and drives both with wrk, their runs taking turns.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import uuid
from datetime import UTC, datetime

import orjson
import uvloop
from aiohttp import web
from bench_bare import Bare, Handler, Routes, dispatcher, json_response, open_pools
from bench_baseline_boards import board_routes
from bench_baseline_checkin import checkin_routes
from bench_baseline_mall import mall_routes

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


def profile_routes(bare: Bare) -> Routes:
    async def healthz(request: web.BaseRequest) -> web.Response:
        return web.Response(body=HEALTH_BODY, content_type="application/json")

    async def profile(request: web.BaseRequest) -> web.Response:
        claims = bare.claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        connection = await bare.pg.acquire()
        try:
            row = await connection.fetchrow(USER_SQL, int(claims["sub"]))
        finally:
            bare.pg.release(connection)
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

    return {"/healthz": {"GET": healthz}, "/v1/users/profile": {"GET": profile}}


def petting(bare: Bare) -> Handler:
    async def interact(request: web.BaseRequest) -> web.Response:
        claims = bare.claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        body = orjson.loads(await request.read())
        if body.get("interaction_type") != "petting":
            return json_response({"code": 40002, "message": "Unknown interaction"}, 400)
        connection = await bare.pg.acquire()
        try:
            row = await connection.fetchrow(PET_SQL, request["segment"])
            pet = orjson.loads(row["data"]) if row is not None else None
            if pet is None or pet["user_id"] != int(str(claims["sub"])):
                return json_response({"code": 40401, "message": "Pet not found"}, 404)
            now = datetime.now(UTC).isoformat()
            changes = {"last_interaction_at": now, "experience": pet.get("experience", 0) + 1}
            entry = {"pet_id": row["doc_id"], "interaction_type": "petting", "created_at": now}
            written = await connection.fetchrow(
                PET_WRITE_SQL,
                row["doc_id"],
                row["version"],
                orjson.dumps(changes).decode(),
                uuid.uuid4().hex,
                orjson.dumps(entry).decode(),
            )
        finally:
            bare.pg.release(connection)
        if written is None:
            return json_response({"code": 40901, "message": "Changed meanwhile"}, 409)
        data = {**orjson.loads(written["data"]), "id": written["doc_id"], "version": written["version"]}
        return json_response({"code": 0, "message": "Success", "data": data})

    return interact


async def serve(args: argparse.Namespace) -> None:
    pg, redis = await open_pools(args.dsn, args.pool, args.redis_url, args.redis_pool)
    bare = Bare(pg, redis, args.secret.encode(), args.issuer, args.audience, args.kid)
    routes = {
        **profile_routes(bare),
        **checkin_routes(bare),
        **mall_routes(bare, args.page_key),
        **board_routes(bare, args.board_key),
    }
    patterns = {("/v1/pets/", "/interact"): {"POST": petting(bare)}}
    runner = web.ServerRunner(web.Server(dispatcher(routes, patterns), access_log=None), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await pg.close(lambda connection: connection.close(timeout=2))
    await redis.close(lambda connection: connection.disconnect())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--kid", default="k1")
    parser.add_argument("--issuer", default="mengchong")
    parser.add_argument("--audience", default="mengchong-miniprogram")
    parser.add_argument(
        "--pool", type=int, default=10, help="PostgreSQL connections (the product's pool_max)"
    )
    parser.add_argument(
        "--redis-pool", type=int, default=32, help="Redis connections (one per wrk connection)"
    )
    parser.add_argument("--redis-url", help="Redis of the cached product page")
    parser.add_argument("--page-key", help="the key of the copy of the product's cached page")
    parser.add_argument("--board-key", help="the key of the pet_level board the product built")
    args = parser.parse_args()
    uvloop.install()  # the product's event loop (mengchong.server), so the comparison is like for like
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
