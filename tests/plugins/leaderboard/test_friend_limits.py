"""The ``max_friends`` limit over HTTP on both profiles: exactly at it on either side, and
under simultaneous accepts (forced to meet by ``friends_support.race``)."""

from __future__ import annotations

from collections import Counter

import pytest

from friends_support import (
    accept,
    accepted,
    fields,
    friend_list,
    friendship_rows,
    members,
    pairs,
    race,
    remove,
)
from leaderboard_support import invite

SMALL_LIMIT = pytest.mark.parametrize("leaderboard_overrides", [{"max_friends": 2}])


@SMALL_LIMIT
async def test_the_limit_takes_exactly_max_friends(client, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    (
        (carol_id, carol_auth),
        (dave_id, dave_auth),
        (erin_id, erin_auth),
        (frank_id, frank_auth),
    ) = await members(client, 4)
    code = (await invite(client, alice_auth))["code"]
    await accepted(client, bob_auth, code)
    await accepted(client, carol_auth, code)  # Alice's second: exactly the limit

    status, body = await accept(client, dave_auth, {"code": code})

    assert (status, body["code"], fields(body)) == (422, 42204, {"inviter"}), body
    assert await friend_list(client, alice_auth) == [carol_id, bob_id]
    assert await friend_list(client, dave_auth) == []
    # Friends already, accepting again is no new friend: still answered.
    assert (await accepted(client, bob_auth, code))["user_id"] == str(alice_id)
    # Alice, full, can't accept Dave's code either: she is the one named; both full, both are.
    daves = (await invite(client, dave_auth))["code"]
    status, body = await accept(client, alice_auth, {"code": daves})
    assert (status, body["code"], fields(body)) == (422, 42204, {"caller"}), body
    await accepted(client, erin_auth, daves)
    await accepted(client, frank_auth, daves)
    status, body = await accept(client, alice_auth, {"code": daves})
    assert (status, body["code"], fields(body)) == (422, 42204, {"caller", "inviter"}), body
    assert await friendship_rows(client) == pairs(
        (alice_id, bob_id), (alice_id, carol_id), (dave_id, erin_id), (dave_id, frank_id)
    )
    # A friendship ended makes room again.
    assert (await remove(client, alice_auth, bob_id))[0] == 200
    assert (await accepted(client, erin_auth, code))["user_id"] == str(alice_id)
    assert await friend_list(client, alice_auth) == [erin_id, carol_id]


@pytest.mark.parametrize("leaderboard_overrides", [{"max_friends": 3}])
async def test_simultaneous_accepts_of_one_code_stop_at_the_limit(client, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    code = (await invite(client, alice_auth))["code"]
    await accepted(client, bob_auth, code)  # two places left
    racers = await members(client, 8)
    for _, auth in racers:  # each token's first use reads the database: not during the race
        assert await friend_list(client, auth) == []

    results = await race(client, [accept(client, auth, {"code": code}) for _, auth in racers])

    outcomes = Counter((status, body["code"]) for status, body in results)
    assert outcomes == {(200, 0): 2, (422, 42204): 6}, outcomes
    assert {frozenset(fields(body)) for status, body in results if status == 422} == {frozenset({"inviter"})}
    winners = [user_id for (user_id, _), (status, _) in zip(racers, results, strict=True) if status == 200]
    assert sorted(await friend_list(client, alice_auth)) == sorted([bob_id, *winners])
    assert await friend_list(client, bob_auth) == [alice_id]
    assert len(await friendship_rows(client)) == 6


@SMALL_LIMIT
async def test_one_caller_accepting_many_codes_at_once_stops_at_the_limit(client, alice, bob):
    _, alice_auth = alice
    _, bob_auth = bob
    inviters = await members(client, 8)
    codes = [(await invite(client, auth))["code"] for _, auth in inviters]

    results = await race(client, [accept(client, alice_auth, {"code": code}) for code in codes])

    outcomes = Counter((status, body["code"]) for status, body in results)
    assert outcomes == {(200, 0): 2, (422, 42204): 6}, outcomes
    assert {frozenset(fields(body)) for status, body in results if status == 422} == {frozenset({"caller"})}
    assert len(await friend_list(client, alice_auth)) == 2
    assert await friend_list(client, bob_auth) == []
    assert len(await friendship_rows(client)) == 4


# --- The list ----------------------------------------------------------------------------
