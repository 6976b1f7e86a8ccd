"""The boards' event handlers on both profiles: a redelivered event changes nothing and an older
one never overwrites a newer one (handlers called directly, also concurrently), weekly counts
count each event once, a banned user's events are skipped, a ban takes the user off every board
and the unban puts them back from the databases (over HTTP, through the real event flow),
ban events in either order, and which subscribers a switched-off board leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leaderboard_support import MONDAY, Auth, befriend, board, local, until
from mengchong.economy.points import grant_points
from mengchong.events import Event, EventPayload, PetInteracted, PointsChanged, UserBanned, UserUnbanned
from mengchong.keys import cache_key, database_key, events_key
from mengchong_plugins.leaderboard import boards, subscribers
from pets_support import adopted

NINE = local(MONDAY, time(9))


def event(payload: EventPayload, at: datetime, event_id: str | None = None) -> Event:
    """The event as delivered: ``occurred_at`` is ``at``."""
    extra = {"id": event_id} if event_id else {}
    return Event(payload.NAME, payload.as_payload(), occurred_at=at.isoformat(), **extra)


async def handle(client: TestClient, handler: Callable[..., Awaitable[None]], *events: Event) -> None:
    """Deliver the events to the handler, one after the other."""
    app = client.server.app
    with app[database_key].activate():
        for delivered in events:
            await handler(app, delivered)


async def stored(client: TestClient, board_type: str, week: str | None = None) -> dict[str, Any]:
    """Everything a stored board keeps: its lines and its members' hash."""
    cache = client.server.app[cache_key]
    keys = boards.board_keys(cache, board_type, week)
    lines = await cache.client.zrevrange(keys.board, 0, -1, withscores=True)
    return {
        "lines": [(member.decode(), int(score)) for member, score in lines],
        "members": {
            key.decode(): value.decode() for key, value in (await cache.client.hgetall(keys.members)).items()
        },
    }


def points(user_id: int, balance: int) -> PointsChanged:
    return PointsChanged(user_id, 1, balance, "test", None)


def petted(user_id: int, pet_id: str, level: int, experience: int) -> PetInteracted:
    return PetInteracted(user_id, pet_id, "petting", level, experience, 2)


def users_on(data: dict[str, Any]) -> list[str]:
    return [item["user_id"] for item in data["items"]]


async def test_a_redelivered_balance_changes_nothing_and_an_older_one_is_ignored(client, alice, bob):
    (alice_id, _), (bob_id, _) = alice, bob
    newer = event(points(alice_id, 50), NINE)
    await handle(client, subscribers.on_points, newer)
    first = await stored(client, "user_points")
    assert [score for _, score in first["lines"]] == [50]
    await handle(
        client, subscribers.on_points, newer, event(points(alice_id, 30), NINE - timedelta(seconds=1))
    )
    assert await stored(client, "user_points") == first
    # the same balance later keeps the time it was reached; a new one replaces the old member
    await handle(client, subscribers.on_points, event(points(alice_id, 50), NINE + timedelta(seconds=1)))
    assert await stored(client, "user_points") == first
    await handle(client, subscribers.on_points, event(points(alice_id, 40), NINE + timedelta(seconds=2)))
    after = await stored(client, "user_points")
    assert [score for _, score in after["lines"]] == [40]
    assert after["members"] == {str(alice_id): after["lines"][0][0]} != first["members"]

    # two events of one millisecond still order
    await handle(
        client,
        subscribers.on_points,
        event(points(alice_id, 41), NINE + timedelta(seconds=2, microseconds=600)),
    )
    await handle(
        client,
        subscribers.on_points,
        event(points(alice_id, 42), NINE + timedelta(seconds=2, microseconds=200)),
    )
    assert [score for _, score in (await stored(client, "user_points"))["lines"]] == [41]

    # concurrent deliveries, out of order: the newest wins whichever runs last
    older, newest = event(points(bob_id, 7), NINE), event(points(bob_id, 9), NINE + timedelta(seconds=1))
    await asyncio.gather(*[handle(client, subscribers.on_points, e) for e in (newest, older, newest, older)])
    lines = dict(
        (member.split("|")[1], score) for member, score in (await stored(client, "user_points"))["lines"]
    )
    assert lines == {str(alice_id): 41, str(bob_id): 9}


async def test_a_pets_older_level_never_overwrites_a_newer_one(client, alice):
    alice_id, _ = alice
    pet_id = "a" * 32
    level_3 = event(petted(alice_id, pet_id, 3, 10), NINE + timedelta(seconds=5))
    await handle(client, subscribers.on_pet, level_3)
    state = await stored(client, "pet_level")
    assert [score for _, score in state["lines"]] == [3_000_000_010]
    assert list(state["members"]) == [pet_id]
    await handle(client, subscribers.on_pet, event(petted(alice_id, pet_id, 2, 90), NINE))
    assert await stored(client, "pet_level") == state
    await handle(client, subscribers.on_pet, level_3)
    assert await stored(client, "pet_level") == state


async def test_a_weekly_count_counts_each_event_once(client, alice, bob):
    (alice_id, _), (bob_id, _) = alice, bob
    once = event(petted(alice_id, "a" * 32, 1, 2), NINE)
    await handle(client, subscribers.on_interaction, once, once)
    other = event(petted(alice_id, "a" * 32, 1, 4), NINE + timedelta(seconds=1))
    await asyncio.gather(*[handle(client, subscribers.on_interaction, other) for _ in range(5)])
    await handle(client, subscribers.on_interaction, event(petted(bob_id, "b" * 32, 1, 2), NINE))
    state = await stored(client, "weekly_interactions", "2026-W25")
    assert [(member.split("|")[1], score) for member, score in state["lines"]] == [
        (str(alice_id), 2),
        (str(bob_id), 1),
    ]


async def test_a_weeks_board_expires_weeks_kept_weeks_after_the_week(client, clock, alice):
    alice_id, _ = alice
    await handle(client, subscribers.on_interaction, event(petted(alice_id, "a" * 32, 1, 2), NINE))
    cache = client.server.app[cache_key]
    keys = boards.board_keys(cache, "weekly_interactions", "2026-W25")
    expected = (local(MONDAY + timedelta(weeks=9), time(0)) - clock.now()).total_seconds()
    for key in (keys.board, keys.members, keys.counted):
        assert expected - 5 <= await cache.client.ttl(key) <= expected, key


async def test_an_event_of_a_week_no_longer_kept_is_not_counted(client, alice):
    alice_id, _ = alice
    long_ago = NINE - timedelta(weeks=9)  # its week ended more than weeks_kept (8) weeks ago
    await handle(client, subscribers.on_interaction, event(petted(alice_id, "a" * 32, 1, 2), long_ago))
    cache = client.server.app[cache_key]
    assert [key async for key in cache.client.scan_iter(match=cache.key("lb", "*"))] == []


async def ban(client: TestClient, admin: Auth, user_id: int, *, lift: bool = False) -> None:
    method = client.delete if lift else client.post
    response = await method(f"/v1/admin/users/{user_id}/ban", headers=admin)
    assert response.status == 200, await response.json()


async def test_a_banned_users_events_are_skipped(client, admin, alice):
    (_, admin_auth), (alice_id, _) = admin, alice
    await ban(client, admin_auth, alice_id)
    await handle(client, subscribers.on_points, event(points(alice_id, 5), NINE))
    await handle(client, subscribers.on_pet, event(petted(alice_id, "a" * 32, 1, 2), NINE))
    await handle(client, subscribers.on_interaction, event(petted(alice_id, "a" * 32, 1, 2), NINE))
    for board_type, week in (("user_points", None), ("pet_level", None), ("weekly_interactions", "2026-W25")):
        assert (await stored(client, board_type, week))["lines"] == []


async def test_an_event_read_before_the_ban_committed_cannot_put_the_user_back(client, alice):
    alice_id, _ = alice
    app = client.server.app
    # the ban's handler ran between this event's check of the user and its write
    with app[database_key].activate():
        await subscribers.drop_user(app, alice_id)
    await handle(client, subscribers.on_points, event(points(alice_id, 5), NINE))
    await handle(client, subscribers.on_interaction, event(petted(alice_id, "a" * 32, 1, 2), NINE))
    assert (await stored(client, "user_points"))["lines"] == []
    assert (await stored(client, "weekly_interactions", "2026-W25"))["lines"] == []


def entries(state: dict[str, Any]) -> dict[str, int]:
    """A stored board's lines by entry id (a user id, a pet id)."""
    return {member.split("|")[1]: score for member, score in state["lines"]}


async def test_a_banned_user_leaves_every_board_and_comes_back_after_the_unban(client, admin, alice, bob):
    (_, admin_auth), (alice_id, alice_auth), (bob_id, bob_auth) = admin, alice, bob
    database = client.server.app[database_key]
    await befriend(client, alice_auth, bob_auth)
    pets = {}
    for user_id, auth, amount in ((alice_id, alice_auth, 20), (bob_id, bob_auth, 10)):
        await grant_points(database, user_id, amount, "test", "before")
        pets[user_id] = (await adopted(client, auth))["pet_id"]
        await handle(client, subscribers.on_interaction, event(petted(user_id, "a" * 32, 1, 2), NINE))
    week = ("weekly_interactions", "2026-W25")

    def read(board_type: str, week: str | None = None) -> Callable[[], Awaitable[dict[str, int]]]:
        async def entries_of() -> dict[str, int]:
            return entries(await stored(client, board_type, week))

        return entries_of

    await until(read("user_points"), lambda found: found == {str(alice_id): 20, str(bob_id): 10})
    await until(read("pet_level"), lambda found: set(found) == set(pets.values()))
    everyone = [str(alice_id), str(bob_id)]
    for board_type in ("user_points", "pet_level", "weekly_interactions", "friend_interaction"):
        assert sorted(users_on(await board(client, bob_auth, board_type))) == everyone

    await ban(client, admin_auth, alice_id)
    await until(read("user_points"), lambda found: str(alice_id) not in found)
    assert set(await read("pet_level")()) == {pets[bob_id]}
    assert set(await read(*week)()) == {str(bob_id)}
    for board_type in ("user_points", "pet_level", "weekly_interactions", "friend_interaction"):
        assert users_on(await board(client, bob_auth, board_type)) == [str(bob_id)], board_type
    await grant_points(database, alice_id, 5, "test", "while banned")
    await grant_points(database, bob_id, 1, "test", "while banned")  # relayed after alice's
    assert await until(read("user_points"), lambda found: found.get(str(bob_id)) == 11) == {str(bob_id): 11}

    await ban(client, admin_auth, alice_id, lift=True)
    await until(read("user_points"), lambda found: found == {str(alice_id): 25, str(bob_id): 11})
    await until(read("pet_level"), lambda found: set(found) == set(pets.values()))
    data = await board(client, bob_auth, "user_points")
    assert [(item["user_id"], item["score"]) for item in data["items"]] == [
        (str(alice_id), 25),
        (str(bob_id), 11),
    ]
    assert sorted(users_on(await board(client, bob_auth, "pet_level"))) == everyone
    # weekly counts come back with the next rebuild; on the friends' board she is listed with 0
    assert users_on(await board(client, bob_auth, "weekly_interactions")) == [str(bob_id)]
    friends = await board(client, bob_auth, "friend_interaction")
    assert [(item["user_id"], item["score"]) for item in friends["items"]] == [
        (str(bob_id), 1),
        (str(alice_id), 0),
    ]


async def test_ban_events_in_either_order_follow_the_users_state(client, admin, alice):
    (_, admin_auth), (alice_id, _) = admin, alice
    await grant_points(client.server.app[database_key], alice_id, 20, "test", "before")
    on_board = [(str(alice_id), 20)]

    def read() -> Awaitable[dict[str, Any]]:
        return stored(client, "user_points")

    def shown(state: dict[str, Any]) -> list[tuple[str, int]]:
        return [(member.split("|")[1], score) for member, score in state["lines"]]

    await until(read, lambda state: shown(state) == on_board)
    # a late user.banned, delivered after the ban was lifted, leaves her on the boards
    await handle(client, subscribers.on_user, event(UserBanned(alice_id), NINE))
    assert shown(await read()) == on_board
    await ban(client, admin_auth, alice_id)
    await until(read, lambda state: shown(state) == [])
    # a user.unbanned delivered while she is banned (again) puts nothing back
    await handle(client, subscribers.on_user, event(UserUnbanned(alice_id), NINE))
    assert shown(await read()) == []


@pytest.mark.parametrize(
    ("leaderboard_overrides", "expected"),
    [
        ({"boards": ["user_points"]}, ["leaderboard.points", "leaderboard.users"]),
        ({"boards": ["friend_interaction"]}, ["leaderboard.users", "leaderboard.weekly"]),
        ({}, ["leaderboard.pets", "leaderboard.points", "leaderboard.users", "leaderboard.weekly"]),
    ],
)
async def test_only_the_boards_that_are_on_have_subscribers(client, expected):
    names = sorted(
        s.name for s in client.server.app[events_key].subscribers if s.name.startswith("leaderboard.")
    )
    assert names == expected
