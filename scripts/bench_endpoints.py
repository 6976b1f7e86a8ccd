"""What ``scripts/bench`` measures: the product's endpoints, the bare baselines they are compared
with, and what each needs (its tokens, the same work done bare, a day cleared before each run)."""

from __future__ import annotations

PET, LOGIN = '\'{"interaction_type":"petting"}\'', "'{\"code\":\"' .. code .. '\"}'"
# The mall: a page of 20 of MALL_PRODUCTS on the shelf, and orders of one of them, unlimited.
MALL_PRODUCTS, HOT_PRODUCT = 30, "b0" * 16
BOARD = '"/v1/leaderboards/pet_level?page=1&limit=20"'  # the seeded pets, ranked
ORDER = f'\'{{"product_id":"{HOT_PRODUCT}","quantity":1}}\''
# The pet list is read by users with a full page of pets: the first LIST_USERS have PAGE_PETS.
LIST_USERS, PAGE_PETS = 1000, 20
# (name, method, path as a Lua expression, body as a Lua expression or None, authenticated, baseline)
ENDPOINTS: list[tuple[str, str, str, str | None, bool, str | None]] = [
    ("GET /healthz", "GET", '"/healthz"', None, False, "bare healthz"),
    ("GET /v1/users/profile", "GET", '"/v1/users/profile"', None, True, "raw asyncpg"),
    ("GET /v1/users/pets", "GET", f'"/v1/users/pets?limit={PAGE_PETS}"', None, True, "raw asyncpg"),
    ("GET /v1/pets/{id}", "GET", '"/v1/pets/" .. pets[i]', None, True, "raw asyncpg"),
    (
        "POST /v1/pets/{id}/interact",
        "POST",
        '"/v1/pets/" .. pets[i] .. "/interact"',
        PET,
        True,
        "raw asyncpg",
    ),
    ("POST /v1/checkin", "POST", '"/v1/checkin"', None, True, "raw asyncpg checkin"),
    ("GET /v1/checkin/status", "GET", '"/v1/checkin/status"', None, True, "raw asyncpg checkin status"),
    ("GET /v1/mall/products", "GET", '"/v1/mall/products?page=1&limit=20"', None, False, "redis-py page"),
    ("POST /v1/mall/orders", "POST", '"/v1/mall/orders"', ORDER, True, "raw asyncpg order"),
    ("GET /v1/leaderboards/pet_level", "GET", BOARD, None, True, "redis-py board"),
    # A user's grants: the token check and one query, like the profile (so its baseline's).
    (
        "GET /v1/notifications/subscriptions",
        "GET",
        '"/v1/notifications/subscriptions"',
        None,
        True,
        "raw asyncpg",
    ),
    ("POST /v1/auth/wechat_login", "POST", '"/v1/auth/wechat_login"', LOGIN, False, None),
]
# (name, method, path, body, authenticated), served by scripts/bench_baseline.py
BASELINES = [
    ("bare healthz", "GET", '"/healthz"', None, False),
    ("raw asyncpg", "GET", '"/v1/users/profile"', None, True),
    ("raw asyncpg petting", "POST", '"/v1/pets/" .. pets[i] .. "/interact"', PET, True),
    ("raw asyncpg checkin", "POST", '"/v1/checkin"', None, True),
    ("raw asyncpg checkin status", "GET", '"/v1/checkin/status"', None, True),
    ("redis-py page", "GET", '"/v1/mall/products?page=1&limit=20"', None, False),
    ("raw asyncpg order", "POST", '"/v1/mall/orders"', ORDER, True),
    ("redis-py board", "GET", BOARD, None, True),
]
# Each check-in run starts from a day nobody has checked in. wrk sends each request for the next
# user in turn (--checkin-users, 40,000: a 10 s run below 4,000 req/s), and the bench warns when
# a run outlasted them. The statuses then read one logged day a user.
CLEAR_THE_DAY_SQL = (
    "DELETE FROM checkin_logs; DELETE FROM points_ledger WHERE reason LIKE 'checkin%'; "
    "UPDATE users SET points_balance = 0 WHERE points_balance <> 0; DELETE FROM outbox_events"
)
# Every user can pay for every order of a run (an order of the hot product costs 1 point).
FUND_SQL = "UPDATE users SET points_balance = 1000000000; DELETE FROM outbox_events"
# What runs before each run of an endpoint (a warm-up included); such an endpoint must answer
# no non-2xx (the bench warns when it does).
BEFORE_EACH = {
    "POST /v1/checkin": CLEAR_THE_DAY_SQL,
    "raw asyncpg checkin": CLEAR_THE_DAY_SQL,
    "POST /v1/mall/orders": FUND_SQL,
    "raw asyncpg order": FUND_SQL,
}
TOKENS = {
    "GET /v1/users/pets": "list_tokens",
    "POST /v1/checkin": "checkin_tokens",
    "raw asyncpg checkin": "checkin_tokens",
}
# Measured beside an endpoint, not its target: the same work as the endpoint, done bare.
SAME_WORK = {"POST /v1/pets/{id}/interact": "raw asyncpg petting"}
