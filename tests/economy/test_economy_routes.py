"""The economy's routes on both runtime profiles: an admin's points adjustment (validated,
admins only, 404 for nobody) and a user's own ledger, paginated newest first; and the
``points.changed`` event, published after the commit and once per applied change."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from mengchong import hookimpl
from mengchong.accounts.models import User
from mengchong.economy.points import grant_points, spend_points
from mengchong.events import Event, PointsChanged, Subscriber
from mengchong.keys import database_key
from support import bearer, eventually, login, settings_from

ITEM_KEYS = {"entry_id", "delta", "reason", "ref", "balance_after", "created_at"}


class PointsEvents:
    """A plugin noting every ``points.changed`` event delivered to it. (That delivery waits for
    the commit is tested in tests/kernel/test_events.py.)"""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    @hookimpl
    def mengchong_subscribers(self, app) -> list[Subscriber]:
        return [Subscriber("test.points", (PointsChanged,), self.handle)]

    async def handle(self, app, event: Event) -> None:
        self.seen.append(event.payload)


@pytest.fixture
def points_events() -> PointsEvents:
    return PointsEvents()


@pytest.fixture
async def client(make_client, profile, points_events):
    settings = settings_from(profile, auth={"admin_openids": ["mock-boss"]})
    return await make_client(settings, [("points_events", points_events)])


@pytest.fixture
async def admin(client) -> dict[str, str]:
    return bearer((await login(client, "boss"))["token"])


async def user_of(client, code: str) -> tuple[int, dict[str, str]]:
    data = await login(client, code)
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def adjust(client, headers: dict[str, str], user_id: Any, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/v1/admin/users/{user_id}/points", json=body, headers=headers)
    return response.status, await response.json()


async def balance_of(client, user_id: int) -> int:
    with client.app[database_key].activate():
        return (await User.get(id=user_id)).points_balance


async def ledger(client, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/v1/users/points/ledger{query}", headers=headers)
    return response.status, await response.json()


async def test_an_admin_grants_and_takes_points(client, admin, points_events):
    alice, _ = await user_of(client, "alice")

    status, body = await adjust(client, admin, alice, {"delta": 50, "reason": "compensation"})
    assert status == 200, body
    data = body["data"]
    assert body["code"] == 0
    assert data == {
        "user_id": str(alice),
        "delta": 50,
        "balance": 50,
        "reason": "compensation",
        "entry_id": data["entry_id"],
    }
    assert int(data["entry_id"]) > 0

    status, body = await adjust(client, admin, alice, {"delta": -20, "reason": "correction"})
    assert (status, body["data"]["balance"], body["data"]["delta"]) == (200, 30, -20)

    status, body = await adjust(client, admin, alice, {"delta": -31, "reason": "correction"})
    assert (status, body["code"]) == (422, 42201), body
    assert await balance_of(client, alice) == 30

    await eventually(lambda: len(points_events.seen) == 2)
    assert points_events.seen == [
        {"user_id": alice, "delta": 50, "balance": 50, "reason": "compensation", "ref": None},
        {"user_id": alice, "delta": -20, "balance": 30, "reason": "correction", "ref": None},
    ]


@pytest.mark.parametrize(
    ("path_id", "body", "field"),
    [
        ("{id}", {"delta": 0, "reason": "x"}, "delta"),
        ("{id}", {"delta": 1.5, "reason": "x"}, "delta"),
        ("{id}", {"delta": "5", "reason": "x"}, "delta"),
        ("{id}", {"delta": True, "reason": "x"}, "delta"),
        ("{id}", {"delta": 1_000_001, "reason": "x"}, "delta"),
        ("{id}", {"delta": -1_000_001, "reason": "x"}, "delta"),
        ("{id}", {"reason": "x"}, "delta"),
        ("{id}", {"delta": 5, "reason": ""}, "reason"),
        ("{id}", {"delta": 5, "reason": "   "}, "reason"),
        ("{id}", {"delta": 5, "reason": "x" * 33}, "reason"),
        ("{id}", {"delta": 5, "reason": 7}, "reason"),
        ("{id}", {"delta": 5}, "reason"),
        ("{id}", {"delta": 5, "reason": "x", "ref": "y"}, "ref"),
        ("abc", {"delta": 5, "reason": "x"}, "user_id"),
        ("0", {"delta": 5, "reason": "x"}, "user_id"),
    ],
)
async def test_the_adjustment_is_validated_naming_the_field(client, admin, path_id, body, field):
    alice, _ = await user_of(client, "alice")
    status, payload = await adjust(client, admin, path_id.format(id=alice), body)
    assert (status, payload["code"]) == (400, 40001), payload
    assert field in {error["field"] for error in payload["errors"]}
    assert await balance_of(client, alice) == 0


async def test_only_admins_adjust_points(client):
    alice, alice_auth = await user_of(client, "alice")
    status, body = await adjust(client, alice_auth, alice, {"delta": 1000, "reason": "free money"})
    assert (status, body["code"]) == (403, 40301)
    status, body = await adjust(client, {}, alice, {"delta": 1000, "reason": "free money"})
    assert (status, body["code"]) == (401, 40101)
    assert await balance_of(client, alice) == 0


async def test_adjusting_an_unknown_user_is_not_found(client, admin):
    status, body = await adjust(client, admin, 987_654, {"delta": 5, "reason": "x"})
    assert (status, body["code"]) == (404, 40401), body


async def test_the_ledger_is_the_callers_own_newest_first_and_paginated(client):
    alice, alice_auth = await user_of(client, "alice")
    bob, bob_auth = await user_of(client, "bob")
    database = client.app[database_key]
    for day in range(1, 12):
        await grant_points(database, alice, day, "checkin", f"2024-05-{day:02d}")
    await spend_points(database, alice, 10, "mall.order")
    await grant_points(database, bob, 99, "checkin", "2024-05-01")

    status, body = await ledger(client, alice_auth, "?page=2&limit=5")
    assert status == 200, body
    page = body["data"]
    assert {k: page[k] for k in ("total", "page", "limit", "totalPages")} == {
        "total": 12,
        "page": 2,
        "limit": 5,
        "totalPages": 3,
    }
    assert [item["delta"] for item in page["items"]] == [7, 6, 5, 4, 3]
    item = page["items"][0]
    assert set(item) == ITEM_KEYS
    assert (item["reason"], item["ref"], item["balance_after"]) == ("checkin", "2024-05-07", 28)
    assert isinstance(item["entry_id"], str)
    assert datetime.fromisoformat(item["created_at"]).utcoffset() is not None

    status, body = await ledger(client, alice_auth)
    first = body["data"]["items"]
    assert (len(first), body["data"]["limit"]) == (10, 10)
    assert (first[0]["delta"], first[0]["ref"], first[0]["balance_after"]) == (-10, None, 56)
    assert [int(i["entry_id"]) for i in first] == sorted((int(i["entry_id"]) for i in first), reverse=True)

    status, body = await ledger(client, alice_auth, "?page=3&limit=5")
    assert [item["delta"] for item in body["data"]["items"]] == [2, 1]
    status, body = await ledger(client, alice_auth, "?page=4&limit=5")
    assert (status, body["data"]["items"], body["data"]["total"]) == (200, [], 12)

    status, body = await ledger(client, bob_auth)
    assert [(i["delta"], i["balance_after"]) for i in body["data"]["items"]] == [(99, 99)]


@pytest.mark.parametrize(
    ("query", "field"), [("?page=0", "page"), ("?limit=101", "limit"), ("?limit=x", "limit")]
)
async def test_the_ledger_query_is_validated(client, query, field):
    _, alice_auth = await user_of(client, "alice")
    status, body = await ledger(client, alice_auth, query)
    assert (status, body["code"]) == (400, 40001), body
    assert field in {error["field"] for error in body["errors"]}


async def test_the_ledger_needs_a_token(client):
    status, body = await ledger(client, {})
    assert (status, body["code"]) == (401, 40101)


async def test_points_changed_is_published_after_the_commit_once_per_applied_change(client, points_events):
    alice, _ = await user_of(client, "alice")
    database = client.app[database_key]
    first = await grant_points(database, alice, 10, "checkin", "2024-05-01")
    again = await grant_points(database, alice, 10, "checkin", "2024-05-01")
    await grant_points(database, alice, 5, "bonus")
    assert first.applied
    assert not again.applied

    expected = {"user_id": alice, "delta": 10, "balance": 10, "reason": "checkin", "ref": "2024-05-01"}
    bonus = {"user_id": alice, "delta": 5, "balance": 15, "reason": "bonus", "ref": None}
    await eventually(lambda: len(points_events.seen) == 2)
    await asyncio.sleep(0.2)  # a replayed grant would have been delivered by now
    assert points_events.seen == [expected, bonus]


async def adjust_with_key(client, admin, user_id: int, body: dict, key: str) -> tuple[int, dict, dict]:
    headers = {**admin, "Idempotency-Key": key}
    response = await client.post(f"/v1/admin/users/{user_id}/points", json=body, headers=headers)
    return response.status, await response.json(), dict(response.headers)


async def test_a_retried_adjustment_with_its_idempotency_key_applies_once(client, admin, points_events):
    alice, alice_auth = await user_of(client, "alice")
    bob, _ = await user_of(client, "bob")
    body = {"delta": 40, "reason": "compensation"}
    status, first, headers = await adjust_with_key(client, admin, alice, body, "retry-1")
    assert (status, first["data"]["balance"], headers.get("Idempotent-Replayed")) == (200, 40, None)
    status, again, headers = await adjust_with_key(client, admin, alice, body, "retry-1")
    assert (status, headers.get("Idempotent-Replayed")) == (200, "true")
    assert again["data"] == first["data"]
    assert await balance_of(client, alice) == 40
    # The key is per user: the same key for another user is another change.
    status, other, _ = await adjust_with_key(client, admin, bob, body, "retry-1")
    assert (status, other["data"]["balance"]) == (200, 40)
    # Without a key, the same body is a second change.
    status, _ = await adjust(client, admin, alice, body)
    assert await balance_of(client, alice) == 80
    _, entries = await ledger(client, alice_auth)
    assert [item["ref"] for item in entries["data"]["items"]] == [None, "admin:retry-1"]
    await eventually(lambda: len(points_events.seen) == 3)


@pytest.mark.parametrize(
    "second",
    [
        {"delta": 41, "reason": "compensation"},
        {"delta": 40, "reason": "gift"},
        {"delta": -40, "reason": "compensation"},
    ],
    ids=["other delta", "other reason", "other sign"],
)
async def test_an_idempotency_key_reused_for_another_change_is_refused(client, admin, second):
    alice, _ = await user_of(client, "alice")
    status, _, _ = await adjust_with_key(client, admin, alice, {"delta": 40, "reason": "compensation"}, "k-2")
    assert status == 200
    status, body, _ = await adjust_with_key(client, admin, alice, second, "k-2")
    assert (status, body["code"], body["errors"][0]["field"]) == (422, 42200, "Idempotency-Key"), body
    assert await balance_of(client, alice) == 40


async def test_concurrent_adjustments_with_one_key_apply_once(client, admin):
    alice, _ = await user_of(client, "alice")
    body = {"delta": 7, "reason": "compensation"}
    results = await asyncio.gather(*(adjust_with_key(client, admin, alice, body, "same") for _ in range(8)))
    assert [status for status, _, _ in results] == [200] * 8
    assert len({result["data"]["entry_id"] for _, result, _ in results}) == 1
    assert await balance_of(client, alice) == 7
    mixed = [{"delta": 7, "reason": f"r{n}"} for n in range(6)]
    results = await asyncio.gather(*(adjust_with_key(client, admin, alice, b, "mixed") for b in mixed))
    assert sorted(status for status, _, _ in results) == [200] + [422] * 5
    assert await balance_of(client, alice) == 14


@pytest.mark.parametrize("key", ["", "has space", "x" * 49, "ключ"])
async def test_a_malformed_idempotency_key_is_a_400(client, admin, key):
    alice, _ = await user_of(client, "alice")
    headers = {**admin, "Idempotency-Key": key}
    response = await client.post(
        f"/v1/admin/users/{alice}/points", json={"delta": 1, "reason": "x"}, headers=headers
    )
    body = await response.json()
    assert (response.status, body["errors"][0]["field"]) == (400, "Idempotency-Key"), body
    assert await balance_of(client, alice) == 0
