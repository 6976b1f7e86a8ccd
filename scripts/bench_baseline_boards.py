"""The leaderboard baseline of ``scripts/bench_baseline.py``, NOT part of the product:
``GET /v1/leaderboards/pet_level``: the same JWT decode, the same ``ZREVRANGE ... WITHSCORES`` of
the board the product built (redis-py), and one query of those pets with their owners (raw
asyncpg, the documents table joined to users), answered as JSON. No privacy, no my_rank, no
validation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

PAGE_SQL = (
    "SELECT d.doc_id, d.data->>'name' AS name, d.data->>'species' AS species, u.id AS user_id, "
    "u.nickname, u.avatar_url FROM documents d JOIN users u ON u.id = (d.data->>'user_id')::bigint "
    "WHERE d.collection = 'pets' AND d.doc_id = ANY($1::text[])"
)


def add_board_routes(
    app: web.Application,
    pool_key: web.AppKey[asyncpg.Pool],
    claims_of: Callable[[web.Request], dict[str, Any] | web.Response],
    json_response: Callable[..., web.Response],
    redis_url: str | None,
    board_key: str | None,
) -> None:
    redis_key = web.AppKey("board_redis", aioredis.Redis)

    async def board(request: web.Request) -> web.Response:
        claims = claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        limit = int(request.query.get("limit", 10))
        offset = (int(request.query.get("page", 1)) - 1) * limit
        ranked = await request.app[redis_key].zrevrange(
            board_key or "", offset, offset + limit - 1, withscores=True
        )
        pet_ids = [member.decode().rpartition("|")[2] for member, _ in ranked]
        async with request.app[pool_key].acquire() as connection:
            rows = {row["doc_id"]: row for row in await connection.fetch(PAGE_SQL, pet_ids)}
        items = []
        for rank, ((_, score), pet_id) in enumerate(zip(ranked, pet_ids, strict=True), start=offset + 1):
            row = rows.get(pet_id)
            if row is None:
                continue
            items.append(
                {
                    "rank": rank,
                    "user_id": str(row["user_id"]),
                    "nickname": row["nickname"],
                    "avatar_url": row["avatar_url"],
                    "score": int(score) // 1_000_000_000,
                    "pet_info": {"pet_id": pet_id, "name": row["name"], "species": row["species"]},
                }
            )
        return json_response({"code": 0, "message": "Success", "data": {"items": items}})

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        app[redis_key] = aioredis.Redis.from_url(redis_url or "redis://127.0.0.1:6379/0")
        yield
        await app[redis_key].aclose()

    app.router.add_get("/v1/leaderboards/pet_level", board)
    app.cleanup_ctx.append(redis_ctx)
