"""The check-in baselines of ``scripts/bench_baseline.py``, NOT part of the product:

- ``POST /v1/checkin``: the product's statements for a check-in with raw asyncpg, in one
  transaction: the user's logged days, the log row (``ON CONFLICT DO NOTHING``: 409 when the day
  is taken), the balance update, the ledger row and the two outbox rows (``points.changed`` and
  ``checkin.completed``) in one INSERT, as the product writes them. The reward is the base 10
  points; no streak rules, no validation.
- ``GET /v1/checkin/status``: one query of the user's logged days, answered as JSON.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web
from bench_bare import Bare, Routes, json_response

ZONE = ZoneInfo("Asia/Shanghai")
BASE_POINTS = 10
LOOKBACK_DAYS = 400
DAYS_SQL = (
    "SELECT day, retroactive, created_at FROM checkin_logs WHERE user_id = $1 AND day >= $2 ORDER BY day"
)
LOG_SQL = (
    "INSERT INTO checkin_logs (user_id, day, retroactive, reward_points, bonus_points, bonus_item_id, "
    "created_at) VALUES ($1, $2, false, $3, 0, NULL, $4) ON CONFLICT (user_id, day) DO NOTHING RETURNING id"
)
BALANCE_SQL = (
    "UPDATE users SET points_balance = points_balance + $2 "
    "WHERE id = $1 AND points_balance + $2 >= 0 RETURNING points_balance"
)
LEDGER_SQL = (
    "INSERT INTO points_ledger (user_id, delta, reason, ref, balance_after, created_at) "
    "VALUES ($1, $2, 'checkin', $3, $4, $5) ON CONFLICT (user_id, reason, ref) DO NOTHING RETURNING id"
)
OUTBOX_SQL = (
    "INSERT INTO outbox_events (event_id, name, payload, created_at, attempts) "
    "VALUES ($1, 'points.changed', $2::jsonb, $5, 0), ($3, 'checkin.completed', $4::jsonb, $5, 0)"
)


def outbox_event(name: str, payload: dict[str, object], now: datetime) -> list[str]:
    """An outbox row's event id and JSON, whole as the product writes them: the product's relay
    sends the baseline's rows too (one database), and its subscribers must be able to read them,
    else it spends the run logging their failures."""
    event_id = str(uuid.uuid4())
    event = {"name": name, "payload": payload, "id": event_id, "occurred_at": now.isoformat()}
    return [event_id, orjson.dumps(event).decode()]


def checkin_routes(bare: Bare) -> Routes:
    async def check_in(request: web.BaseRequest) -> web.Response:
        claims = bare.claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        user_id = int(claims["sub"])
        now = datetime.now(UTC)
        today = now.astimezone(ZONE).date()
        connection = await bare.pg.acquire()
        try:
            async with connection.transaction():
                await connection.fetch(DAYS_SQL, user_id, today - timedelta(days=LOOKBACK_DAYS))
                if await connection.fetchrow(LOG_SQL, user_id, today, BASE_POINTS, now) is None:
                    return json_response({"code": 40901, "message": "Already checked in today"}, 409)
                balance = await connection.fetchval(BALANCE_SQL, user_id, BASE_POINTS)
                await connection.fetchrow(LEDGER_SQL, user_id, BASE_POINTS, today.isoformat(), balance, now)
                day = today.isoformat()
                changed = {"user_id": user_id, "delta": BASE_POINTS, "balance": balance}
                changed |= {"reason": "checkin", "ref": f"checkin:{day}"}
                completed = {"user_id": user_id, "date": day, "retroactive": False, "consecutive_days": 1}
                completed |= {"reward_points": BASE_POINTS, "bonus_points": 0, "bonus_item_id": None}
                completed["balance"] = balance
                events = [
                    *outbox_event("points.changed", changed, now),
                    *outbox_event("checkin.completed", completed, now),
                ]
                await connection.execute(OUTBOX_SQL, *events, now)
        finally:
            bare.pg.release(connection)
        data = {
            "date": today.isoformat(),
            "reward_points": BASE_POINTS,
            "consecutive_days": 1,
            "balance": balance,
        }
        return json_response({"code": 0, "message": "Checked in successfully", "data": data})

    async def status(request: web.BaseRequest) -> web.Response:
        claims = bare.claims_of(request)
        if isinstance(claims, web.Response):
            return claims
        today: date = datetime.now(UTC).astimezone(ZONE).date()
        connection = await bare.pg.acquire()
        try:
            rows = await connection.fetch(DAYS_SQL, int(claims["sub"]), today - timedelta(days=LOOKBACK_DAYS))
        finally:
            bare.pg.release(connection)
        days = [row["day"].isoformat() for row in rows]
        data = {"today_checked_in": today.isoformat() in days, "current_month_checkins": days}
        return json_response({"code": 0, "message": "Success", "data": data})

    return {"/v1/checkin": {"POST": check_in}, "/v1/checkin/status": {"GET": status}}
