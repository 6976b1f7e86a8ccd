"""``mengchong leaderboard rebuild`` on both profiles: boards filled through the API read exactly
the same after the plugin's keys are flushed and rebuilt (banned users left out, a week's bounds
kept), changes made while a rebuild runs are not lost, readers never see a half board, and the
command line runs it.

These tests run on the system clock: the kernel stamps an event's ``occurred_at`` with it, and
the weekly board an event lands on must be the week the app's clock (and so the rebuild) is in."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leaderboard_support import ADMIN_CODE, Auth, befriend, board, until, user
from mengchong.accounts.models import User
from mengchong.app import create_app
from mengchong.cli import build_parser
from mengchong.clock import SystemClock
from mengchong.commands import plugin_commands, run_command
from mengchong.economy.points import grant_points, spend_points
from mengchong.keys import cache_key, clock_key, database_key, documents_key, plugin_manager_key, settings_key
from mengchong_plugins.leaderboard import boards, scoring
from mengchong_plugins.leaderboard.rebuild import rebuild
from pets_support import act, adopted
from support import settings_from, track_queues

BOARDS = ("user_points", "pet_level", "weekly_interactions", "friend_interaction")
ONE_BY_ONE = pytest.mark.parametrize("leaderboard_overrides", [{"rebuild_batch": 1}])


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


async def every_board(client: TestClient, viewers: list[Auth]) -> list[dict[str, Any]]:
    return [await board(client, auth, board_type) for auth in viewers for board_type in BOARDS]


def this_week(client: TestClient) -> str:
    app = client.server.app
    return scoring.week_of(app[clock_key].now(), app[settings_key].app.timezone)


async def sizes(client: TestClient) -> dict[str, int]:
    """How many entries each stored board holds (from the cache: polling it costs no request)."""
    cache = client.server.app[cache_key]
    found = {}
    for board_type, week in (
        ("user_points", None),
        ("pet_level", None),
        ("weekly_interactions", this_week(client)),
    ):
        found[board_type] = int(await cache.client.zcard(boards.board_keys(cache, board_type, week).board))
    return found


async def flush(client: TestClient) -> None:
    """Delete every key of the plugin (under the cache prefix's ``lb:``)."""
    cache = client.server.app[cache_key]
    keys = [key async for key in cache.client.scan_iter(match=cache.key("lb", "*"))]
    assert keys
    await cache.client.delete(*keys)


async def rebuilt(client: TestClient, board_type: str | None = None) -> dict[str, int]:
    app = client.server.app
    with app[database_key].activate():
        return await rebuild(app, board_type)


async def ban(client: TestClient, admin: Auth, user_id: int) -> None:
    response = await client.post(f"/v1/admin/users/{user_id}/ban", headers=admin)
    assert response.status == 200, await response.json()


async def interact(client: TestClient, auth: Auth, pet_id: str, kind: str) -> None:
    response, body = await act(client, auth, pet_id, kind)
    assert response.status == 200, body


@ONE_BY_ONE
async def test_every_board_reads_the_same_after_a_flush_and_a_rebuild(client, admin, alice, bob):
    (admin_id, admin_auth), (alice_id, alice_auth), (bob_id, bob_auth) = admin, alice, bob
    dave_id, dave_auth = await user(client, "dave")
    app = client.server.app
    database = app[database_key]
    await befriend(client, alice_auth, bob_auth)
    for user_id, amount in ((alice_id, 10), (bob_id, 13), (admin_id, 5), (dave_id, 50)):
        await grant_points(database, user_id, amount, "test", "grant")
    await spend_points(database, bob_id, 3, "test", "spend")  # 10: equal to alice's, reached later
    first = await adopted(client, alice_auth, name="Mimi")
    second = await adopted(client, bob_auth, name="Dodo")
    third = await adopted(client, alice_auth, name="Kiki")
    daves = await adopted(client, dave_auth, name="Rex")
    for auth, pet, kind in (
        (alice_auth, first, "petting"),
        (bob_auth, second, "petting"),
        (alice_auth, first, "cleaning"),
        (bob_auth, second, "cleaning"),
        (dave_auth, daves, "petting"),
    ):
        await interact(client, auth, pet["pet_id"], kind)
    await until(
        lambda: sizes(client),
        lambda found: found == {"user_points": 4, "pet_level": 4, "weekly_interactions": 3},
    )
    await ban(client, admin_auth, dave_id)
    expected = {"user_points": 3, "pet_level": 3, "weekly_interactions": 2}
    await until(lambda: sizes(client), lambda found: found == expected)
    # interactions outside the week: one before its start, one after the rebuild's start
    interactions = app[documents_key].collection("pet_interactions")
    start = scoring.week_start(this_week(client), app[settings_key].app.timezone)
    for when in (start - timedelta(seconds=1), app[clock_key].now() + timedelta(hours=1)):
        await interactions.insert(
            {"pet_id": third["pet_id"], "user_id": alice_id, "created_at": when.isoformat()}
        )
    viewers = [alice_auth, bob_auth]
    before = await every_board(client, viewers)
    assert [item["user_id"] for item in before[0]["items"]] == [str(alice_id), str(bob_id), str(admin_id)]

    await flush(client)
    assert await sizes(client) == {"user_points": 0, "pet_level": 0, "weekly_interactions": 0}
    assert await rebuilt(client) == expected
    assert await every_board(client, viewers) == before


@ONE_BY_ONE
async def test_changes_made_while_a_board_is_rebuilt_are_kept(client):
    app = client.server.app
    database = app[database_key]
    with database.activate():  # more users than logins allowed in a minute
        users = [(await User.create(openid=f"bulk-{index}")).id for index in range(40)]
    for user_id in users:
        await grant_points(database, user_id, 1, "test", "first")
    await until(lambda: sizes(client), lambda found: found["user_points"] == len(users))
    balances: dict[str, int] = {}

    async def keep_granting(rebuilding: asyncio.Future) -> int:
        """Grant points round the users until the rebuild is over; how many grants."""
        step = 0
        while not rebuilding.done() or step < len(users):
            user_id = users[step % len(users)]
            balances[str(user_id)] = (
                await grant_points(database, user_id, 1, "test", f"during{step}")
            ).balance
            step += 1
        return step

    rebuilding = asyncio.ensure_future(rebuilt(client, "user_points"))
    _, grants = await asyncio.gather(rebuilding, keep_granting(rebuilding))
    assert grants >= len(users)
    cache = app[cache_key]
    keys = boards.board_keys(cache, "user_points")

    async def shown() -> dict[str, int]:
        lines = await cache.client.zrange(keys.board, 0, -1, withscores=True)
        return {scoring.member_id(member): int(score) for member, score in lines}

    await until(shown, lambda found: found == balances)
    await asyncio.sleep(0.2)  # nothing stale comes after
    assert await shown() == balances
    assert not await cache.client.exists(keys.rebuilding, keys.next.board)


@ONE_BY_ONE
async def test_readers_never_see_a_half_board(client):
    database = client.server.app[database_key]
    users = [(await user(client, f"user{index}"))[0] for index in range(6)]
    for user_id in users:
        await grant_points(database, user_id, 5, "test", "grant")
    await until(lambda: sizes(client), lambda found: found["user_points"] == len(users))
    cache = client.server.app[cache_key]
    key = boards.board_keys(cache, "user_points").board
    seen: list[int] = []
    rebuild_task = asyncio.ensure_future(rebuilt(client, "user_points"))
    while not rebuild_task.done():
        seen.append(int(await cache.client.zcard(key)))
        await asyncio.sleep(0.001)  # the in-process cache answers without ever suspending
    assert await rebuild_task == {"user_points": len(users)}
    assert len(seen) > 1
    assert set(seen) == {len(users)}


async def test_a_second_rebuild_of_a_board_at_once_is_refused(client, alice):
    alice_id, _ = alice
    await grant_points(client.server.app[database_key], alice_id, 5, "test", "grant")
    results = await asyncio.gather(
        rebuilt(client, "user_points"), rebuilt(client, "user_points"), return_exceptions=True
    )
    refused = [str(result) for result in results if isinstance(result, Exception)]
    assert (results.count({"user_points": 1}), refused) == (1, ["another rebuild of user_points is running"])
    assert await rebuilt(client, "user_points") == {"user_points": 1}


async def run_rebuild_command(profile: dict[str, Any], *argv: str, **leaderboard: Any) -> int:
    """``mengchong leaderboard rebuild ...`` in an app of its own on the client's database, its
    command line parsed as the CLI parses it."""
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall", "leaderboard"]},
        auth={"admin_openids": [f"mock-{ADMIN_CODE}"]},
        leaderboard=leaderboard,
    )
    app = create_app(settings)
    track_queues(app)
    args = build_parser(plugin_commands(app[plugin_manager_key])).parse_args(
        ["leaderboard", "rebuild", *argv]
    )
    return await run_command(app, args.command, args)


async def test_the_rebuild_command(client, profile, alice, bob, capsys):
    (alice_id, _), (bob_id, _) = alice, bob
    for user_id in (alice_id, bob_id):
        await grant_points(client.server.app[database_key], user_id, 5, "test", "grant")
    assert await run_rebuild_command(profile) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["pet_level: 0 entries", "user_points: 2 entries", "weekly_interactions: 0 entries"]
    assert await run_rebuild_command(profile, "user_points") == 0
    assert capsys.readouterr().out == "user_points: 2 entries\n"

    assert await run_rebuild_command(profile, "pet_level", boards=["user_points"]) == 1
    output = capsys.readouterr()
    assert (output.out, output.err) == (
        "",
        "leaderboard rebuild: pet_level is switched off (leaderboard.boards)\n",
    )
    with pytest.raises(SystemExit):
        await run_rebuild_command(profile, "richest")
    assert "invalid choice: 'richest'" in capsys.readouterr().err
