"""The friend graph over HTTP on both profiles, on a ManualClock: invite codes (their shape, a
taken code retried, the expiry to the second), accepting one (both users see each other, twice
or ten times at once is one friendship, one's own code, unknown codes, any case, bad bodies), the
``max_friends`` limit on either side, exactly and under concurrent accepts, the list's pages and
order, ending a friendship from either side, ``graph.friend_ids`` and anonymous callers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from friends_support import (
    accept,
    accepted,
    fields,
    friend_list,
    friends_page,
    friendship_rows,
    invite_owners,
    members,
    pairs,
    race,
    remove,
)
from leaderboard_support import MONDAY_NOON, befriend, invite
from mengchong.accounts.models import User
from mengchong.keys import database_key
from mengchong_plugins.leaderboard import friends, graph
from mengchong_plugins.leaderboard.models import FriendInvite

ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
SMALL_LIMIT = pytest.mark.parametrize("leaderboard_overrides", [{"max_friends": 2}])


# --- Invite codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaderboard_overrides", "valid_for"),
    [({}, timedelta(days=7)), ({"invite_days": 0.5}, timedelta(hours=12))],
)
async def test_an_invite_is_a_fresh_short_code_valid_for_invite_days(client, alice, bob, valid_for):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    first = await invite(client, alice_auth)
    response = await client.post("/v1/friends/invite", json={}, headers=alice_auth)
    assert response.status == 201
    second = (await response.json())["data"]
    bobs = await invite(client, bob_auth)

    for data in (first, second, bobs):
        assert set(data) == {"code", "expires_at"}
        assert (len(data["code"]), set(data["code"]) <= ALPHABET) == (8, True), data
        assert datetime.fromisoformat(data["expires_at"]) == MONDAY_NOON + valid_for
    assert len({first["code"], second["code"], bobs["code"]}) == 3
    assert await invite_owners(client) == {
        first["code"]: alice_id,
        second["code"]: alice_id,
        bobs["code"]: bob_id,
    }


async def test_a_code_is_accepted_until_just_before_it_expires(client, clock, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    (_, carol_auth), (_, dave_auth) = await members(client, 2)
    code = (await invite(client, alice_auth))["code"]
    expires_at = MONDAY_NOON + timedelta(days=7)

    clock.set(expires_at - timedelta(seconds=1))
    assert (await accepted(client, bob_auth, code))["user_id"] == str(alice_id)
    for moment, auth in ((expires_at, carol_auth), (expires_at + timedelta(seconds=1), dave_auth)):
        clock.set(moment)
        status, body = await accept(client, auth, {"code": code})
        assert (status, body["code"], fields(body)) == (404, 40401, {"code"}), moment

    assert await friendship_rows(client) == pairs((alice_id, bob_id))


async def test_a_taken_code_is_retried(client, monkeypatch, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    taken = (await invite(client, alice_auth))["code"]
    codes = iter([taken, taken, "BOBSC0DE"])
    monkeypatch.setattr(friends, "new_code", lambda: next(codes))

    assert (await invite(client, bob_auth))["code"] == "BOBSC0DE"

    monkeypatch.setattr(friends, "new_code", lambda: taken)
    response = await client.post("/v1/friends/invite", headers=bob_auth)
    assert (response.status, (await response.json())["code"]) == (409, 40901)
    assert await invite_owners(client) == {taken: alice_id, "BOBSC0DE": bob_id}


# --- Accepting ---------------------------------------------------------------------------


async def test_accepting_makes_both_users_friends_of_each_other(client, clock, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    (carol_id, carol_auth), (_, dave_auth) = await members(client, 2)
    with client.server.app[database_key].activate():
        for user_id, name in ((alice_id, "Alice"), (bob_id, "Bob")):
            await User.filter(id=user_id).update(nickname=name, avatar_url=f"https://example.com/{name}.png")
    code = (await invite(client, alice_auth))["code"]

    data = await accepted(client, bob_auth, code)

    since = MONDAY_NOON.isoformat()
    alice_seen = {
        "user_id": str(alice_id),
        "nickname": "Alice",
        "avatar_url": "https://example.com/Alice.png",
    }
    assert data == {**alice_seen, "since": since}
    bob_seen = {"user_id": str(bob_id), "nickname": "Bob", "avatar_url": "https://example.com/Bob.png"}
    assert (await friends_page(client, alice_auth))["items"] == [{**bob_seen, "since": since}]
    assert (await friends_page(client, bob_auth))["items"] == [data]
    # One code serves many: Carol accepts it later; Dave, who accepted nothing, has no friends.
    later = clock.advance(timedelta(hours=1))
    assert (await accepted(client, carol_auth, code))["since"] == later.isoformat()
    assert await friend_list(client, alice_auth) == [carol_id, bob_id]
    assert await friend_list(client, carol_auth) == [alice_id]
    assert await friend_list(client, dave_auth) == []
    assert await friendship_rows(client) == pairs((alice_id, bob_id), (alice_id, carol_id))


async def test_accepting_again_answers_the_same_and_writes_nothing(client, clock, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    code = (await invite(client, alice_auth))["code"]
    first = await accepted(client, bob_auth, code)

    clock.advance(timedelta(hours=2))
    assert await accepted(client, bob_auth, code) == first
    another = (await invite(client, alice_auth))["code"]
    assert await accepted(client, bob_auth, another) == first
    # And the other way round: Bob's own code, accepted by Alice, names the same friendship.
    bobs = await accepted(client, alice_auth, (await invite(client, bob_auth))["code"])
    assert (bobs["user_id"], bobs["since"]) == (str(bob_id), first["since"])

    assert await friendship_rows(client) == pairs((alice_id, bob_id))
    assert await friend_list(client, alice_auth) == [bob_id]


async def test_simultaneous_accepts_make_one_friendship(client, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    alices, bobs = (await invite(client, alice_auth))["code"], (await invite(client, bob_auth))["code"]

    # Ten at once, six of Bob's with Alice's code and four of Alice's with Bob's: the same pair.
    bob_accepts = [accept(client, bob_auth, {"code": alices}) for _ in range(6)]
    results = await race(
        client, [*bob_accepts, *(accept(client, alice_auth, {"code": bobs}) for _ in range(4))]
    )

    assert [status for status, _ in results] == [200] * 10, results
    assert len({body["data"]["since"] for _, body in results}) == 1
    assert [body["data"]["user_id"] for _, body in results] == [str(alice_id)] * 6 + [str(bob_id)] * 4
    assert await friendship_rows(client) == pairs((alice_id, bob_id))


@pytest.mark.parametrize(
    ("accepter", "spelt", "status", "named"),
    [
        ("bob", str.lower, 200, set()),
        ("alice", str, 400, {"code"}),  # one's own code
        ("bob", lambda code: "AAAAAAAA" if code != "AAAAAAAA" else "BBBBBBBB", 404, {"code"}),
        ("bob", lambda code: code[:7], 404, {"code"}),
        ("bob", lambda code: code + "X", 404, {"code"}),
    ],
)
async def test_a_code_is_matched_in_any_case_and_never_ones_own(
    client, alice, bob, accepter, spelt, status, named
):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    code = (await invite(client, alice_auth))["code"]

    answer, body = await accept(
        client, {"alice": alice_auth, "bob": bob_auth}[accepter], {"code": spelt(code)}
    )

    assert (answer, fields(body)) == (status, named), body
    made = pairs((alice_id, bob_id)) if status == 200 else set()
    assert await friendship_rows(client) == made
    assert await friend_list(client, alice_auth) == ([bob_id] if made else [])


@pytest.mark.parametrize(
    ("path", "data", "content_type", "error", "named"),
    [
        ("invite", '{"days": 30}', "application/json", 40001, {"days"}),
        ("accept", "{}", "application/json", 40001, {"code"}),
        ("accept", '{"code": ""}', "application/json", 40001, {"code"}),
        ("accept", f'{{"code": "{"A" * 17}"}}', "application/json", 40001, {"code"}),
        ("accept", '{"code": 12345678}', "application/json", 40001, {"code"}),
        ("accept", '{"code": null}', "application/json", 40001, {"code"}),
        ("accept", '{"code": ["ABCDEFGH"]}', "application/json", 40001, {"code"}),
        ("accept", '{"code": "ABCDEFGH", "inviter": 1}', "application/json", 40001, {"inviter"}),
        ("accept", '["ABCDEFGH"]', "application/json", 40001, {"body"}),
        ("accept", '{"code": ', "application/json", 40002, {"body"}),
        ("accept", "code=ABCDEFGH", "application/x-www-form-urlencoded", 40003, {"Content-Type"}),
    ],
)
async def test_bad_bodies_are_refused(
    client, monkeypatch, alice, bob, path, data, content_type, error, named
):
    _, alice_auth = alice
    _, bob_auth = bob
    await invite(client, alice_auth)
    monkeypatch.setattr(friends, "new_code", lambda: "ABCDEFGH")
    await invite(client, bob_auth)  # a code "ABCDEFGH" exists: only the body's shape is wrong

    headers = {**alice_auth, "Content-Type": content_type}
    response = await client.post(f"/v1/friends/{path}", data=data, headers=headers)

    body = await response.json()
    assert (response.status, body["code"], fields(body)) == (400, error, named), body
    assert await friendship_rows(client) == set()
    assert len(await invite_owners(client)) == 2


# --- The friend limit --------------------------------------------------------------------


async def test_the_list_is_newest_first_in_pages(client, clock, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    others = await members(client, 5)
    code = (await invite(client, alice_auth))["code"]
    order = []
    for user_id, auth in [(bob_id, bob_auth), *others[:3]]:
        clock.advance(timedelta(minutes=1))
        await accepted(client, auth, code)
        order.append(user_id)
    for user_id, auth in others[3:]:  # the clock stands still: a tie in `since`, the later first
        await accepted(client, auth, code)
        order.append(user_id)
    newest_first = list(reversed(order))

    pages = [await friends_page(client, alice_auth, page=n, limit=2) for n in (1, 2, 3, 4)]

    listed = [[int(item["user_id"]) for item in data["items"]] for data in pages]
    assert listed == [newest_first[:2], newest_first[2:4], newest_first[4:], []]
    for n, data in enumerate(pages, 1):
        assert (data["total"], data["page"], data["limit"], data["totalPages"]) == (6, n, 2, 3)
    sinces = [item["since"] for data in pages for item in data["items"]]
    assert sinces == sorted(sinces, reverse=True)
    default = await friends_page(client, alice_auth)
    assert (default["page"], default["limit"], len(default["items"])) == (1, 10, 6)
    assert await friend_list(client, bob_auth) == [alice_id]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("?sort=asc", {"sort"}),
        ("?page=0", {"page"}),
        ("?limit=0", {"limit"}),
        ("?limit=101", {"limit"}),
        ("?page=x", {"page"}),
        ("/0", {"user_id"}),
        ("/-3", {"user_id"}),
        ("/abc", {"user_id"}),
        ("/1.5", {"user_id"}),
        (f"/{2**63}", {"user_id"}),
    ],
)
async def test_bad_parameters_are_refused(client, alice, bob, path, named):
    _, alice_auth = alice
    bob_id, bob_auth = bob
    await befriend(client, alice_auth, bob_auth)
    method = client.get if path.startswith("?") else client.delete

    response = await method(f"/v1/friends{path}", headers=alice_auth)

    body = await response.json()
    assert (response.status, body["code"], fields(body)) == (400, 40001, named), body
    assert await friend_list(client, alice_auth) == [bob_id]


# --- Ending a friendship -----------------------------------------------------------------


async def test_either_friend_can_end_a_friendship(client, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    (_, carol_auth), (dave_id, dave_auth) = await members(client, 2)
    code = (await invite(client, alice_auth))["code"]
    for auth in (bob_auth, carol_auth, dave_auth):
        await accepted(client, auth, code)

    status, body = await remove(client, alice_auth, bob_id)  # the inviter ends one
    assert (status, body["data"]) == (200, {"user_id": str(bob_id)})
    status, body = await remove(client, carol_auth, alice_id)  # an accepter ends another
    assert (status, body["data"]) == (200, {"user_id": str(alice_id)})

    assert await friend_list(client, alice_auth) == [dave_id]
    assert await friend_list(client, bob_auth) == []
    assert await friend_list(client, carol_auth) == []
    assert await friendship_rows(client) == pairs((alice_id, dave_id))
    # Ended, it can start again, since now.
    assert (await accepted(client, bob_auth, code))["user_id"] == str(alice_id)
    assert sorted(await friend_list(client, alice_auth)) == sorted([bob_id, dave_id])


async def test_ending_what_is_no_friendship_is_not_found(client, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    (carol_id, carol_auth), (dave_id, dave_auth) = await members(client, 2)
    await befriend(client, alice_auth, bob_auth)
    await befriend(client, carol_auth, dave_auth)

    for auth, other in (
        (alice_auth, carol_id),
        (carol_auth, bob_id),
        (alice_auth, alice_id),
        (bob_auth, 10**12),
    ):
        status, body = await remove(client, auth, other)
        assert (status, body["code"]) == (404, 40401), other
    assert (await remove(client, alice_auth, bob_id))[0] == 200
    status, body = await remove(client, bob_auth, alice_id)  # ended already, from the other side
    assert (status, body["code"]) == (404, 40401)
    assert await friend_list(client, carol_auth) == [dave_id]  # untouched by all of it


# --- The graph the boards read, and who may call -----------------------------------------


async def test_the_graph_agrees_with_the_lists(client, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    others = await members(client, 3)
    for _, auth in others:
        await befriend(client, alice_auth, auth)
    await befriend(client, bob_auth, others[0][1])
    await remove(client, alice_auth, others[1][0])
    everyone = [(alice_id, alice_auth), (bob_id, bob_auth), *others]

    app = client.server.app
    with app[database_key].activate():
        graphed = {user_id: sorted(await graph.friend_ids(app, user_id)) for user_id, _ in everyone}
    for user_id, auth in everyone:
        assert graphed[user_id] == sorted(await friend_list(client, auth)), user_id
    assert graphed[alice_id] == sorted([others[0][0], others[2][0]])
    assert graphed[others[1][0]] == []


async def test_every_route_needs_a_token(client, alice, bob):
    alice_id, alice_auth = alice
    _, bob_auth = bob
    code = (await invite(client, alice_auth))["code"]
    await befriend(client, alice_auth, bob_auth)
    calls = [
        client.post("/v1/friends/invite"),
        client.post("/v1/friends/accept", json={"code": code}),
        client.post("/v1/friends/accept", json={"bad": True}),  # who calls is checked first
        client.get("/v1/friends"),
        client.delete(f"/v1/friends/{alice_id}"),
        client.delete("/v1/friends/0"),
    ]
    for call in calls:
        response = await call
        assert (response.status, (await response.json())["code"]) == (401, 40101)
    with client.server.app[database_key].activate():
        assert await FriendInvite.all().count() == 2
    assert len(await friendship_rows(client)) == 2
