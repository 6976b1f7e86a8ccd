"""Helpers of the check-in tests: the three check-in routes over HTTP, the reads around them (the
ledger, the inventory, the balance), grants of points and make-up cards, and local instants for the
app's ManualClock. Fixtures are in conftest.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from mengchong.accounts.models import User
from mengchong.clock import ManualClock
from mengchong.economy.inventory import grant_items
from mengchong.economy.points import grant_points
from mengchong.keys import database_key, item_catalog_key
from support import bearer, login

Auth = dict[str, str]
"""The Authorization header of a logged-in user (``support.bearer``)."""

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"
TODAY = date(2026, 6, 15)
"""The day the app's clock starts on (a Monday, mid-month), at noon local time."""
MAKEUP_CARD = "checkin.makeup_card"
BASE = 10
"""The default ``checkin.base_points``."""

DAY_3_BONUS = {"points": 20, "item_id": None, "quantity": 1}
DAY_7_BONUS = {"points": 50, "item_id": "food.cake", "quantity": 1}
"""The default streak bonuses as the API shows them."""


def local(day: date, timezone: str = SHANGHAI, at: time = time(12)) -> datetime:
    """The instant (UTC) of wall time ``at`` on ``day`` in ``timezone``."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def go_to(clock: ManualClock, day: date, timezone: str = SHANGHAI, at: time = time(12)) -> None:
    """Set the app's clock to wall time ``at`` (noon by default) on ``day`` in ``timezone``."""
    clock.set(local(day, timezone, at))


async def user(client: TestClient, code: str) -> tuple[int, Auth]:
    """Log in as openid ``mock-<code>``; returns the user id and the Authorization header."""
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def check_in(client: TestClient, auth: Auth, **options: Any) -> tuple[int, dict[str, Any]]:
    """``POST /v1/checkin`` (``json=`` for a body); returns the status and the envelope."""
    response = await client.post("/v1/checkin", headers=auth, **options)
    return response.status, await response.json()


async def checked_in(client: TestClient, auth: Auth) -> dict[str, Any]:
    """Check in and return the data of the 200."""
    status, body = await check_in(client, auth)
    assert status == 200, body
    return body["data"]


async def make_up(client: TestClient, auth: Auth, body: Any) -> tuple[int, dict[str, Any]]:
    """``POST /v1/checkin/retroactive`` with ``body``; ``body`` a date makes ``{"date": ...}``."""
    if isinstance(body, date):
        body = {"date": body.isoformat()}
    response = await client.post("/v1/checkin/retroactive", json=body, headers=auth)
    return response.status, await response.json()


async def made_up(client: TestClient, auth: Auth, day: date) -> dict[str, Any]:
    """Make up ``day`` and return the data of the 200."""
    status, body = await make_up(client, auth, day)
    assert status == 200, body
    return body["data"]


async def checkin_status(client: TestClient, auth: Auth, query: str = "") -> tuple[int, dict[str, Any]]:
    """``GET /v1/checkin/status`` + ``query`` (e.g. ``"?month=2026-05"``); status and envelope."""
    response = await client.get(f"/v1/checkin/status{query}", headers=auth)
    return response.status, await response.json()


async def status_data(client: TestClient, auth: Auth, query: str = "") -> dict[str, Any]:
    """The data of a 200 from ``GET /v1/checkin/status``."""
    status, body = await checkin_status(client, auth, query)
    assert status == 200, body
    return body["data"]


def shown(data: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` that ``expected`` names (a missing one is a KeyError), so a test
    compares what the contract promises and lets the API add fields."""
    return {key: data[key] for key in expected}


def preview(data: dict[str, Any]) -> list[tuple[int, str, int, dict | None]]:
    """(day, date, points, bonus) of each entry of a status's ``rewards_preview``."""
    return [
        (entry["day"], entry["date"], entry["points"], entry["bonus"]) for entry in data["rewards_preview"]
    ]


def week_from(first: date, first_day: int) -> list[tuple[int, str, int, dict | None]]:
    """The default table's preview of seven days from streak day ``first_day`` on ``first``."""
    bonuses = {3: DAY_3_BONUS, 7: DAY_7_BONUS}
    return [
        (day, (first + timedelta(days=n)).isoformat(), BASE, bonuses.get((day - 1) % 7 + 1))
        for n, day in enumerate(range(first_day, first_day + 7))
    ]


def refused_fields(body: dict[str, Any]) -> set[str]:
    """The fields an error envelope names."""
    return {error["field"] for error in body.get("errors", [])}


async def ledger(client: TestClient, auth: Auth) -> list[dict[str, Any]]:
    """The user's whole points ledger through the API, oldest first."""
    response = await client.get("/v1/users/points/ledger?limit=100", headers=auth)
    body = await response.json()
    assert response.status == 200, body
    assert body["data"]["total"] <= 100, "the tests keep ledgers to one page"
    return list(reversed(body["data"]["items"]))


def entries(rows: list[dict[str, Any]], reason: str) -> list[tuple[int, str | None]]:
    """(delta, ref) of the ledger rows with ``reason``, oldest first."""
    return [(row["delta"], row["ref"]) for row in rows if row["reason"] == reason]


async def inventory(client: TestClient, auth: Auth) -> dict[str, int]:
    """What the user holds, by item id, through ``GET /v1/users/inventory``."""
    response = await client.get("/v1/users/inventory", headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return {item["item_id"]: item["quantity"] for item in body["data"]["items"] if item["quantity"]}


async def balance(client: TestClient, user_id: int) -> int:
    """The user's points balance, read from the database."""
    database = client.server.app[database_key]
    with database.activate():
        return (await User.get(id=user_id)).points_balance


async def give_points(client: TestClient, user_id: int, amount: int) -> None:
    """Grant the user ``amount`` points through the ledger (reason ``test``)."""
    await grant_points(client.server.app[database_key], user_id, amount, "test")


async def give_cards(client: TestClient, user_id: int, quantity: int) -> None:
    """Grant the user ``quantity`` make-up cards, as a mall order would."""
    database = client.server.app[database_key]
    with database.activate():
        async with database.transaction() as connection:
            await grant_items(connection, client.server.app[item_catalog_key], user_id, MAKEUP_CARD, quantity)
