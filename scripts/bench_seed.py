"""The bench's data: users with a pet document and a token each, written straight into the
benchmark's PostgreSQL database (``scripts/bench``)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from bench_endpoints import HOT_PRODUCT, LIST_USERS, MALL_PRODUCTS, PAGE_PETS


async def seed(env: dict[str, str], db_url: str, users: int, checkin_users: int) -> dict[str, list[str]]:
    """Users 1..users with a pet document and a token each (``tokens``, ``pets``); the first
    LIST_USERS have PAGE_PETS pets, so that their pet list is a full page. Users up to
    ``checkin_users`` (if more) have a token and no pet: the check-in runs go through all of
    them (``checkin_tokens``), each user once."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("MENGCHONG__")})
    from mengchong.app import build_tokens
    from mengchong.config_loading import load_settings
    from mengchong_plugins.pets import store
    from mengchong_plugins.pets.rules import PetState, Status
    from mengchong_plugins.pets.settings import PetsSettings

    settings = load_settings(None)
    tokens = build_tokens(settings)
    now = datetime.now(UTC)
    spread = max(1, PetsSettings().decay_write_back_seconds)
    state = store.state_fields(PetState(Status.initial(PetsSettings()), now, level=1, experience=0))
    features = {"dominant_color": "#c8a064", "secondary_color": "#ffffff", "pattern": "solid"}
    model = {"version": 1, "base_model": "cat_base_v1", "size": {"label": "medium", "scale": 1.0}}
    connection = await asyncpg.connect(db_url)
    data: dict[str, list[str]] = {"tokens": [], "pets": [], "checkin_tokens": []}
    try:
        everyone = max(users, checkin_users)
        for start in range(1, everyone + 1, 1000):
            ids = list(range(start, min(start + 1000, everyone + 1)))
            await connection.execute(
                "INSERT INTO users (id, openid, session_key, nickname, avatar_url, gender,"
                " points_balance, role, token_version, created_at)"
                " SELECT u, 'bench-' || u, '', 'user' || u, '', 0, 0, 'user', 0, $2"
                " FROM unnest($1::bigint[]) AS u",
                ids,
                now,
            )
            tokens_issued = [tokens.issue(uid, 0)[0] for uid in ids]
            data["checkin_tokens"] += tokens_issued
            ids = [uid for uid in ids if uid <= users]
            if not ids:
                continue
            owners = ids + [uid for uid in ids if uid <= LIST_USERS for _ in range(PAGE_PETS - 1)]
            pet_ids = [uuid.uuid4().hex for _ in owners]
            bodies = [
                json.dumps(
                    {
                        "user_id": uid,
                        "name": f"pet{uid}",
                        "species": "cat",
                        "personality": "calm",
                        "appearance_features": features,
                        "model_data": model,
                        "photo_id": None,
                        "generation_result_id": pid,
                        "created_at": store.iso(now),
                        "last_interaction_at": None,
                        "last_by_type": {},
                        "earned": {"day": None, "experience": 0},
                        **state,
                        # Spread over the write-back interval, as pets read and written at
                        # different times are: seeded at one instant, every pet would be
                        # written back at once on its first read five minutes later.
                        "status_at": store.iso(now - timedelta(seconds=(start + k) % spread)),
                    }
                )
                for k, (uid, pid) in enumerate(zip(owners, pet_ids, strict=True))
            ]
            await connection.execute(
                "INSERT INTO documents (collection, doc_id, data, version)"
                " SELECT 'pets', d, b::jsonb, 1 FROM unnest($1::text[], $2::text[]) AS t(d, b)",
                pet_ids,
                bodies,
            )
            data["pets"] += pet_ids[: len(ids)]  # each user's first pet, in user order
            data["tokens"] += tokens_issued[: len(ids)]
        data["list_tokens"] = data["tokens"][:LIST_USERS]
        await seed_products(connection, now)
        await build_boards(env)
        await connection.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), $1)", everyone)
    finally:
        await connection.close()
    return data


async def seed_products(connection: asyncpg.Connection, now: datetime) -> None:
    """MALL_PRODUCTS products on the shelf, HOT_PRODUCT (1 point, unlimited stock) first."""
    ids = [HOT_PRODUCT, *(uuid.uuid4().hex for _ in range(MALL_PRODUCTS - 1))]
    await connection.execute(
        "INSERT INTO mall_products (product_id, sku, name, description, image_url, type, category,"
        " points_cost, stock_quantity, on_shelf, per_user_limit, item_id, sort_order, created_at,"
        " updated_at) SELECT p, NULL, 'Fish ' || n, 'A fresh fish', '', 'virtual_pet_food', 'food',"
        " CASE WHEN n = 1 THEN 1 ELSE 10 * n END, -1, true, NULL, 'food.fish', n, $2, $2"
        " FROM unnest($1::text[]) WITH ORDINALITY AS t(p, n)",
        ids,
        now,
    )


async def copy_products_page(redis_url: str, prefix: str, page: int = 1, limit: int = 20) -> str:
    """Copy the product's cached product-list page to a key of its own for the bare baseline
    (the page's hash may expire before the baselines run); returns that key."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        body = await client.hget(f"{prefix}mall:products:pages", f"page={page}&limit={limit}")
        if body is None:
            raise RuntimeError("the product never cached its product list page: run its endpoint first")
        key = f"{prefix}bench:products-page"
        await client.set(key, body)
        return key
    finally:
        await client.aclose()


ROOT = Path(__file__).resolve().parents[1]


async def build_boards(env: dict[str, str]) -> None:
    """The pets' board built from the seeded pets, as an operator would build it."""
    command = [str(ROOT / ".venv/bin/mengchong"), "leaderboard", "rebuild", "pet_level"]
    process = await asyncio.create_subprocess_exec(*command, env=env, cwd=str(ROOT))
    if await process.wait() != 0:
        raise RuntimeError("mengchong leaderboard rebuild pet_level failed")
