"""A board page's users and pets served from the process's kept copies
(:mod:`mengchong_plugins.leaderboard.display`), on both profiles: a second read takes them from
the copies, every write through the product (profile, settings, ban) is seen by the very next
read, from this process and from another one on the same Redis and database; a pet's card is
kept because nothing in the pets plugin changes it after the adoption."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from leaderboard_support import ADMIN_CODE, board, until, user
from mengchong.accounts.models import User
from mengchong.economy.points import grant_points
from mengchong.keys import cache_key, clock_key, database_key, documents_key
from mengchong_plugins.leaderboard import boards, scoring
from mengchong_plugins.leaderboard.display import PET_FIELDS, kept_display_key
from mengchong_plugins.pets import store
from mengchong_plugins.pets.service import plan_interaction
from pets_support import act, adopted
from support import settings_from


async def on_points_board(client: TestClient, user_id: int, amount: int, ref: str) -> None:
    """Grant points and wait until the balance is on user_points."""
    app = client.server.app
    balance = (await grant_points(app[database_key], user_id, amount, "test", ref)).balance
    cache = app[cache_key]
    keys = boards.board_keys(cache, "user_points")

    async def score() -> float | None:
        member = await cache.client.hget(keys.members, str(user_id))
        return await cache.client.zscore(keys.board, member) if member is not None else None

    await until(score, lambda found: found == balance)


def shown(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["user_id"], item["nickname"]) for item in data["items"]]


async def behind_the_products_back(client: TestClient, user_id: int, nickname: str) -> None:
    """A change no writer of ours made (nobody touches the row): what shows the copy is served."""
    with client.server.app[database_key].activate():
        await User.filter(id=user_id).update(nickname=nickname)


async def test_a_page_is_served_from_the_copies_and_a_write_shows_at_once(client, alice, bob):
    (alice_id, alice_auth), (bob_id, bob_auth) = alice, bob
    await on_points_board(client, alice_id, 20, "a")
    await on_points_board(client, bob_id, 10, "b")
    assert shown(await board(client, bob_auth, "user_points")) == [(str(alice_id), ""), (str(bob_id), "")]

    await behind_the_products_back(client, alice_id, "unseen")
    assert shown(await board(client, bob_auth, "user_points"))[0] == (str(alice_id), "")  # the copy

    changed = await client.put("/v1/users/profile", json={"nickname": "Alice"}, headers=alice_auth)
    assert changed.status == 200
    assert shown(await board(client, bob_auth, "user_points"))[0] == (str(alice_id), "Alice")

    hide = {"privacy_prefs": {"show_on_leaderboard": False}}
    assert (await client.put("/v1/users/settings", json=hide, headers=alice_auth)).status == 200
    assert shown(await board(client, bob_auth, "user_points"))[0] == ("hidden", "")


@pytest.fixture
def services_settings(profile):
    return settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall", "leaderboard"]},
        auth={"admin_openids": [f"mock-{ADMIN_CODE}"]},
    )


@pytest.mark.parametrize("profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True)
async def test_another_process_sees_a_rename_and_a_ban_at_once(services_settings, make_client):
    first = await make_client(services_settings)
    second = await make_client(services_settings)  # a second process: same database and Redis prefix
    alice_id, alice_auth = await user(first, "alice")
    bob_id, bob_auth = await user(first, "bob")
    _, admin = await user(first, ADMIN_CODE)
    await on_points_board(first, alice_id, 20, "a")
    await on_points_board(first, bob_id, 10, "b")
    assert shown(await board(first, bob_auth, "user_points"))[0] == (str(alice_id), "")

    renamed = await second.put("/v1/users/profile", json={"nickname": "第二"}, headers=alice_auth)
    assert renamed.status == 200
    assert shown(await board(first, bob_auth, "user_points"))[0] == (str(alice_id), "第二")

    # The ban's event takes alice off the board soon; the copy must not show her as unbanned
    # meanwhile, so the ban itself is read at once (the board's own listing reads `banned`).
    banned = await second.post(f"/v1/admin/users/{alice_id}/ban", json={"reason": "spam"}, headers=admin)
    assert banned.status == 200
    players = await first.server.app[kept_display_key].players_of([alice_id])
    assert players[alice_id].banned


async def test_pet_cards_are_kept_and_read_once(client, alice):
    alice_id, alice_auth = alice
    pet = await adopted(client, alice_auth, name="Mochi")
    kept = client.server.app[kept_display_key]
    first = await kept.cards_of([pet["pet_id"], "0" * 32])  # an unknown id is simply absent
    assert first == {pet["pet_id"]: {"user_id": alice_id, "name": "Mochi", "species": pet["species"]}}
    assert list(kept.cards) == [pet["pet_id"]]
    await store.pets(client.server.app).update(pet["pet_id"], {"name": "behind the back"})
    assert (await kept.cards_of([pet["pet_id"]]))[pet["pet_id"]]["name"] == "Mochi"  # kept


async def test_nothing_in_the_pets_plugin_changes_a_card_after_the_adoption(client, alice, clock):
    """What makes keeping cards without a version right: an interaction (the one writer of a pet
    after its adoption, with the decay of its state) changes none of the card's fields."""
    _, alice_auth = alice
    pet = await adopted(client, alice_auth, name="Mochi")
    app = client.server.app
    document = await store.pets(app).get(pet["pet_id"])
    for interaction in ("petting", "playing", "cleaning", "training"):
        _, changes = plan_interaction(app, document, interaction, None, clock.now())
        assert not set(changes) & set(PET_FIELDS), interaction
    response, body = await act(client, alice_auth, pet["pet_id"], "petting")
    assert response.status == 200, body
    after = await store.pets(app).get(pet["pet_id"])
    assert {f: after[f] for f in PET_FIELDS} == {f: document[f] for f in PET_FIELDS}


async def test_my_pets_are_kept_until_i_adopt_one(client, alice, bob):
    """The reader's pet ids (for my_rank on pet_level) come from the copy while their version
    stands, and the adoption's event makes the next page read them again."""
    (alice_id, alice_auth), (_, bob_auth) = alice, bob
    await adopted(client, bob_auth, name="Dodo")
    assert (await board(client, alice_auth, "pet_level"))["my_rank"] is None  # kept: no pets

    # A pet of hers on the board that no adoption announced: the kept ids don't have it.
    app = client.server.app
    unseen = await app[documents_key].collection("pets").insert({"user_id": alice_id, "name": "x"})
    keys = boards.board_keys(app[cache_key], "pet_level")
    await boards.set_score(
        app[cache_key], keys, unseen["id"], alice_id, scoring.pet_score(9, 0), app[clock_key].now()
    )
    assert (await board(client, alice_auth, "pet_level"))["my_rank"] is None  # the copy

    mochi = await adopted(client, alice_auth, name="Mochi")
    cache = app[cache_key]

    async def on_board() -> bool:
        return await cache.client.hget(keys.members, mochi["pet_id"]) is not None

    await until(on_board, bool)
    mine = (await board(client, alice_auth, "pet_level"))["my_rank"]
    assert (mine["rank"], mine["pet_id"]) == (1, unseen["id"])  # read again: both pets, the best


async def test_a_line_written_before_members_carried_owners_still_shows_its_user(client, alice, bob):
    """A board filled before this version keeps members without the owner until they change:
    their users' versions are asked for in one more round trip, and the page is the same."""
    (alice_id, alice_auth), (_, bob_auth) = alice, bob
    renamed = await client.put("/v1/users/profile", json={"nickname": "Alice"}, headers=alice_auth)
    assert renamed.status == 200
    mochi = await adopted(client, alice_auth, name="Mochi")
    cache = client.server.app[cache_key]
    keys = boards.board_keys(cache, "pet_level")

    async def member() -> bytes | None:
        return await cache.client.hget(keys.members, mochi["pet_id"])

    current = await until(member, lambda found: found is not None)
    assert scoring.member_owner(current) == alice_id
    older = scoring.member(scoring.reached_ms(current), mochi["pet_id"])  # no owner
    score = await cache.client.zscore(keys.board, current)
    await cache.client.zrem(keys.board, current)
    await cache.client.zadd(keys.board, {older: score})
    await cache.client.hset(keys.members, mochi["pet_id"], older)
    for _ in range(2):  # cold, then from the copies
        data = await board(client, bob_auth, "pet_level")
        assert [(i["user_id"], i["nickname"], i["pet_info"]["name"]) for i in data["items"]] == [
            (str(alice_id), "Alice", "Mochi")
        ]
