"""``GET /v1/leaderboards/{type}`` on both profiles, on a ManualClock: the order of each board and
its tie-break (of two equal scores, the one reached first ranks higher), the caller's rank off
the page (their best pet's on pet_level), display data and privacy, the weekly board's reset at
local Monday midnight and its earlier weeks (``?week=``), the friends' board, and bad requests.

Weekly counts are set by calling the subscriber with events at the ManualClock's instants: the
kernel stamps a published event's ``occurred_at`` with the system clock, not the app's."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leaderboard_support import MONDAY, Auth, befriend, board, local, until, user
from mengchong.economy.points import grant_points
from mengchong.events import Event, PetInteracted
from mengchong.keys import cache_key, database_key
from mengchong_plugins.leaderboard import boards, scoring, subscribers
from pets_support import act, adopted

SUNDAY = MONDAY - timedelta(days=1)


async def refused(client: TestClient, path: str, auth: Auth | None = None) -> tuple[int, dict[str, Any]]:
    response = await client.get(path, headers=auth or {})
    return response.status, await response.json()


def lines(data: dict[str, Any]) -> list[tuple[str, int]]:
    return [(item["user_id"], item["score"]) for item in data["items"]]


async def score_of(client: TestClient, board_type: str, entry_id: str) -> int | None:
    """The entry's score on a stored board, read from the cache (polling it costs no request)."""
    cache = client.server.app[cache_key]
    keys = boards.board_keys(cache, board_type)
    member = await cache.client.hget(keys.members, entry_id)
    score = await cache.client.zscore(keys.board, member) if member is not None else None
    return int(score) if score is not None else None


async def granted(client: TestClient, auth: Auth, user_id: int, amount: int, ref: str) -> dict[str, Any]:
    """Grant points, wait until the new balance is on user_points, and read that board."""
    result = await grant_points(client.server.app[database_key], user_id, amount, "test", ref)
    await until(lambda: score_of(client, "user_points", str(user_id)), lambda score: score == result.balance)
    return await board(client, auth, "user_points", limit=100)


async def interacted(client: TestClient, user_id: int, at: datetime) -> None:
    """Count one interaction of the user at ``at``, as the weekly subscriber does on delivery."""
    payload = PetInteracted(user_id, "0" * 32, "petting", 1, 2, 2).as_payload()
    app = client.server.app
    with app[database_key].activate():
        await subscribers.on_interaction(app, Event(PetInteracted.NAME, payload, occurred_at=at.isoformat()))


async def test_equal_balances_rank_by_who_reached_them_first(client, alice, bob, clock):
    # Events are stamped with the app's clock: it moves on between the grants, as time does.
    (alice_id, alice_auth), (bob_id, _) = alice, bob
    await granted(client, alice_auth, alice_id, 10, "a1")
    clock.advance(1)
    data = await granted(client, alice_auth, bob_id, 10, "b1")
    clock.advance(1)
    # equal: alice reached 10 first (her id is also the smaller: an id order would put bob first)
    assert lines(data) == [(str(alice_id), 10), (str(bob_id), 10)]
    data = await granted(client, alice_auth, bob_id, 5, "b2")
    clock.advance(1)
    assert lines(data) == [(str(bob_id), 15), (str(alice_id), 10)]
    data = await granted(client, alice_auth, alice_id, 5, "a2")
    assert lines(data) == [(str(bob_id), 15), (str(alice_id), 15)]  # bob reached 15 first
    assert [item["rank"] for item in data["items"]] == [1, 2]
    assert (data["total"], data["my_rank"], data["week"]) == (2, {"rank": 2, "score": 15}, None)


async def test_pets_rank_by_level_then_experience_then_who_got_there_first(client, alice, bob, clock):
    (alice_id, alice_auth), (bob_id, bob_auth) = alice, bob
    first = await adopted(client, alice_auth, name="Mimi")
    clock.advance(1)  # events are stamped with the app's clock: it moves on, as time does
    second = await adopted(client, bob_auth, name="Dodo")
    clock.advance(1)
    third = await adopted(client, alice_auth, name="Kiki")
    clock.advance(1)

    def pets(data: dict[str, Any]) -> list[str]:
        return [item["pet_info"]["pet_id"] for item in data["items"]]

    for pet in (first, second, third):
        await until(
            lambda pet=pet: score_of(client, "pet_level", pet["pet_id"]), lambda score: score is not None
        )
    data = await board(client, bob_auth, "pet_level")
    assert pets(data) == [first["pet_id"], second["pet_id"], third["pet_id"]]  # all level 1, 0 experience
    assert data["items"][1] == {
        "rank": 2,
        "user_id": str(bob_id),
        "nickname": "",
        "avatar_url": "",
        "score": 1,
        "experience": 0,
        "pet_info": {"pet_id": second["pet_id"], "name": "Dodo", "level": 1, "species": second["species"]},
    }
    assert data["my_rank"] == {"rank": 2, "score": 1, "experience": 0, "pet_id": second["pet_id"]}

    response, body = await act(client, alice_auth, third["pet_id"], "petting")
    assert response.status == 200, body
    gained = body["data"]["reward"]["experience"]
    assert gained > 0
    expected = scoring.pet_score(1, gained)
    await until(lambda: score_of(client, "pet_level", third["pet_id"]), lambda score: score == expected)
    data = await board(client, alice_auth, "pet_level")
    assert pets(data) == [third["pet_id"], first["pet_id"], second["pet_id"]]
    assert (data["items"][0]["user_id"], data["items"][0]["experience"]) == (str(alice_id), gained)
    # the caller's best pet, not their first
    assert data["my_rank"] == {"rank": 1, "score": 1, "experience": gained, "pet_id": third["pet_id"]}


async def test_my_rank_is_given_off_the_page_and_null_off_the_board(client, admin, alice, bob):
    (admin_id, admin_auth), (alice_id, alice_auth), (bob_id, _) = admin, alice, bob
    await granted(client, alice_auth, alice_id, 30, "a")
    await granted(client, alice_auth, bob_id, 20, "b")
    await granted(client, alice_auth, admin_id, 10, "c")
    data = await board(client, admin_auth, "user_points", page=1, limit=1)
    assert lines(data) == [(str(alice_id), 30)]
    assert (data["total"], data["page"], data["limit"], data["totalPages"]) == (3, 1, 1, 3)
    assert data["my_rank"] == {"rank": 3, "score": 10}
    data = await board(client, alice_auth, "user_points", page=2, limit=1)
    assert (lines(data), data["items"][0]["rank"], data["my_rank"]) == (
        [(str(bob_id), 20)],
        2,
        {"rank": 1, "score": 30},
    )
    assert (await board(client, alice_auth, "user_points", page=4, limit=1))["items"] == []
    _, carol = await user(client, "carol")
    assert (await board(client, carol, "user_points"))["my_rank"] is None


async def test_a_user_hiding_from_the_boards_is_shown_only_to_themselves(client, alice, bob):
    (alice_id, alice_auth), (bob_id, bob_auth) = alice, bob
    for auth, name in ((alice_auth, "Alice"), (bob_auth, "Bob")):
        profile = {"nickname": name, "avatar_url": f"https://img.example.com/{name}.png"}
        assert (await client.put("/v1/users/profile", json=profile, headers=auth)).status == 200
    hide = {"privacy_prefs": {"show_on_leaderboard": False}}
    assert (await client.put("/v1/users/settings", json=hide, headers=alice_auth)).status == 200
    await granted(client, alice_auth, alice_id, 20, "a")
    await granted(client, alice_auth, bob_id, 10, "b")

    seen_by_bob = await board(client, bob_auth, "user_points")
    assert [
        {k: item[k] for k in ("rank", "user_id", "nickname", "avatar_url")} for item in seen_by_bob["items"]
    ] == [
        {"rank": 1, "user_id": "hidden", "nickname": "", "avatar_url": ""},
        {
            "rank": 2,
            "user_id": str(bob_id),
            "nickname": "Bob",
            "avatar_url": "https://img.example.com/Bob.png",
        },
    ]
    seen_by_alice = await board(client, alice_auth, "user_points")
    assert seen_by_alice["items"][0]["user_id"] == str(alice_id)
    assert seen_by_alice["items"][0]["nickname"] == "Alice"
    assert seen_by_alice["my_rank"] == {"rank": 1, "score": 20}  # she still ranks


async def test_the_weekly_board_starts_anew_at_local_monday_midnight(client, clock, alice, bob):
    (alice_id, alice_auth), (bob_id, _) = alice, bob
    clock.set(local(SUNDAY, time(23, 59, 59)))
    await interacted(client, alice_id, clock.now())
    await interacted(client, alice_id, clock.now())
    data = await board(client, alice_auth, "weekly_interactions")
    assert (data["week"], lines(data)) == ("2026-W24", [(str(alice_id), 2)])

    clock.set(local(MONDAY, time(0)))
    data = await board(client, alice_auth, "weekly_interactions")
    assert (data["week"], data["items"], data["total"], data["my_rank"]) == ("2026-W25", [], 0, None)
    await interacted(client, bob_id, clock.now())
    data = await board(client, alice_auth, "weekly_interactions")
    assert lines(data) == [(str(bob_id), 1)]
    # last week's stays readable
    data = await board(client, alice_auth, "weekly_interactions", week="2026-W24")
    assert (data["week"], lines(data), data["my_rank"]) == (
        "2026-W24",
        [(str(alice_id), 2)],
        {"rank": 1, "score": 2},
    )


async def test_the_weekly_board_breaks_ties_by_the_later_of_each_users_interactions(client, alice, bob):
    (alice_id, alice_auth), (bob_id, _) = alice, bob
    start = local(MONDAY, time(9))
    await interacted(client, alice_id, start)
    await interacted(client, bob_id, start + timedelta(seconds=1))
    await interacted(client, bob_id, start + timedelta(seconds=2))
    await interacted(client, alice_id, start + timedelta(seconds=3))  # alice reaches 2 after bob
    assert lines(await board(client, alice_auth, "weekly_interactions")) == [
        (str(bob_id), 2),
        (str(alice_id), 2),
    ]


@pytest.mark.parametrize(
    ("week", "status", "message"),
    [
        ("2026-W17", 404, "no longer kept"),  # 8 weeks back: weeks_kept = 8 with this one
        ("2026-W26", 404, "in the future"),
        ("2026-25", 400, "ISO week"),
        ("2026-W54", 400, "ISO week"),
    ],
)
async def test_a_week_out_of_range_or_malformed_is_refused_naming_it(client, alice, week, status, message):
    _, auth = alice
    assert (await board(client, auth, "weekly_interactions", week="2026-W18"))["week"] == "2026-W18"
    code, body = await refused(client, f"/v1/leaderboards/weekly_interactions?week={week}", auth)
    assert (code, [error["field"] for error in body["errors"]]) == (status, ["week"]), body
    assert message in body["errors"][0]["message"]


async def test_a_week_is_refused_on_a_board_that_has_none(client, alice):
    _, auth = alice
    status, body = await refused(client, "/v1/leaderboards/pet_level?week=2026-W25", auth)
    assert (status, body["code"], [error["field"] for error in body["errors"]]) == (400, 40001, ["week"])


async def test_the_friends_board_is_the_caller_and_their_friends(client, admin, alice, bob):
    (admin_id, admin_auth), (alice_id, alice_auth), (bob_id, bob_auth) = admin, alice, bob
    await befriend(client, alice_auth, bob_auth)
    start = local(MONDAY, time(9))
    for second in range(3):
        await interacted(client, admin_id, start + timedelta(seconds=second))
    await interacted(client, bob_id, start + timedelta(seconds=5))
    data = await board(client, alice_auth, "friend_interaction")
    # alice has no interaction this week: listed with 0; admin is not her friend
    assert (lines(data), data["total"], data["week"]) == (
        [(str(bob_id), 1), (str(alice_id), 0)],
        2,
        "2026-W25",
    )
    assert data["my_rank"] == {"rank": 2, "score": 0}
    assert lines(await board(client, admin_auth, "friend_interaction")) == [(str(admin_id), 3)]
    await interacted(client, alice_id, start + timedelta(seconds=6))
    data = await board(client, bob_auth, "friend_interaction", limit=1)
    assert (lines(data), data["totalPages"], data["my_rank"]) == (
        [(str(bob_id), 1)],
        2,
        {"rank": 1, "score": 1},
    )
    data = await board(client, bob_auth, "friend_interaction", week="2026-W24")
    assert alice_id < bob_id
    assert lines(data) == [(str(alice_id), 0), (str(bob_id), 0)]  # by id when nobody has any


async def test_an_unknown_board_is_404_naming_the_known_ones(client, alice):
    _, auth = alice
    status, body = await refused(client, "/v1/leaderboards/richest", auth)
    assert (status, body["code"], body["errors"][0]["field"]) == (404, 40401, "type")
    for known in ("pet_level", "user_points", "weekly_interactions", "friend_interaction"):
        assert known in body["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("page=x", "page"),
        ("sort=score", "sort"),
    ],
)
async def test_bad_page_parameters_are_400_naming_them(client, alice, query, field):
    _, auth = alice
    status, body = await refused(client, f"/v1/leaderboards/user_points?{query}", auth)
    assert (status, body["code"], [error["field"] for error in body["errors"]]) == (400, 40001, [field])


async def test_an_anonymous_caller_is_401(client):
    status, body = await refused(client, "/v1/leaderboards/user_points")
    assert (status, body["code"]) == (401, 40101)


@pytest.mark.parametrize("leaderboard_overrides", [{"boards": ["user_points"]}])
async def test_a_board_switched_off_is_404_and_not_written(client, alice):
    alice_id, auth = alice
    for board_type in ("pet_level", "weekly_interactions", "friend_interaction"):
        status, body = await refused(client, f"/v1/leaderboards/{board_type}", auth)
        assert (status, body["code"]) == (404, 40401)
        assert "user_points" in body["message"]
    pet = await adopted(client, auth)
    assert (await act(client, auth, pet["pet_id"], "petting"))[0].status == 200
    await interacted(client, alice_id, local(MONDAY, time(9)))  # delivered anyway: ignored
    await granted(client, auth, alice_id, 5, "a")  # the events of before have been relayed too
    cache = client.server.app[cache_key]
    keys = {key.decode() async for key in cache.client.scan_iter(match=cache.key("lb", "*"))}
    assert keys == {
        cache.key("lb", "user_points"),
        cache.key("lb", "user_points", "members"),
        cache.key("lb", "user_points", "at"),
    }
