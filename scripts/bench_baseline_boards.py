"""The leaderboard baseline of ``scripts/bench_baseline.py``, NOT part of the product:
``GET /v1/leaderboards/pet_level``: the same JWT decode, the same ``ZREVRANGE ... WITHSCORES`` of
the board the product built (redis-py's Connection), and one query of those pets with their owners (raw
asyncpg, the documents table joined to users), answered as JSON. No privacy, no my_rank, no
validation.
"""

from __future__ import annotations

from aiohttp import web
from bench_bare import Bare, Routes, json_response

PAGE_SQL = (
    "SELECT d.doc_id, d.data->>'name' AS name, d.data->>'species' AS species, u.id AS user_id, "
    "u.nickname, u.avatar_url FROM documents d JOIN users u ON u.id = (d.data->>'user_id')::bigint "
    "WHERE d.collection = 'pets' AND d.doc_id = ANY($1::text[])"
)


def board_routes(bare: Bare, board_key: str | None) -> Routes:
    async def board(request: web.BaseRequest) -> web.Response:
        claims = bare.claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        limit = int(request.query.get("limit", 10))
        offset = (int(request.query.get("page", 1)) - 1) * limit
        flat = await bare.redis_command(
            "ZREVRANGE", board_key or "", offset, offset + limit - 1, "WITHSCORES"
        )
        # RESP3 (redis-py 8's default) answers [member, score] pairs, RESP2 a flat list.
        ranked = (
            [tuple(p) for p in flat]
            if flat and isinstance(flat[0], list)
            else list(zip(flat[::2], flat[1::2], strict=True))
        )
        pet_ids = [member.decode().rpartition("|")[2] for member, _ in ranked]
        connection = await bare.pg.acquire()
        try:
            rows = {row["doc_id"]: row for row in await connection.fetch(PAGE_SQL, pet_ids)}
        finally:
            bare.pg.release(connection)
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
                    "score": int(float(score)) // 1_000_000_000,
                    "pet_info": {"pet_id": pet_id, "name": row["name"], "species": row["species"]},
                }
            )
        return json_response({"code": 0, "message": "Success", "data": {"items": items}})

    return {"/v1/leaderboards/pet_level": {"GET": board}}
