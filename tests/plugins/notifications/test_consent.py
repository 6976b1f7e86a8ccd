"""Consent over HTTP: what ``POST /v1/notifications/subscriptions`` counts (one grant per accepted
template and call, capped, reject/filter/ban), what it refuses and writes nothing for, what
``GET`` shows, whose counts they are; and spending: a send takes one grant, no grant means no
row (the pre-check), and a grant gone by the time the consumer sends makes the row ``skipped``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from checkin_support import check_in, refused_fields
from notifications_support import (
    CHECKIN_DATA,
    TEMPLATES,
    admin_send,
    grant,
    handled,
    logs,
    settled,
    template_id,
)

PATH = "/v1/notifications/subscriptions"
CHECKIN, ORDER, HUNGRY, STREAK = (template_id(kind) for kind in TEMPLATES)


async def post(client, auth, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(PATH, json=body, headers=auth)
    return response.status, await response.json()


async def counts(client, auth) -> dict[str, int]:
    response = await client.get(PATH, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return {row["template_id"]: row["count"] for row in body["data"]["subscriptions"]}


def nothing_held() -> dict[str, int]:
    return dict.fromkeys((CHECKIN, ORDER, HUNGRY, STREAK), 0)


async def test_each_accepted_template_counts_once_per_call(client, alice):
    _, auth = alice
    status, body = await post(client, auth, {"template_ids": [CHECKIN, ORDER, CHECKIN, CHECKIN]})
    assert status == 200, body
    answered = {row["template_id"]: row["count"] for row in body["data"]["subscriptions"]}
    assert answered == {**nothing_held(), CHECKIN: 1, ORDER: 1}
    await post(client, auth, {"template_ids": [CHECKIN]})
    assert await counts(client, auth) == {**nothing_held(), CHECKIN: 2, ORDER: 1}


async def test_get_shows_every_configured_template_with_its_count_and_max(client, alice):
    _, auth = alice
    await grant(client, auth, "pet_hungry", times=3)
    response = await client.get(PATH, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    assert body["code"] == 0
    rows = sorted(body["data"]["subscriptions"], key=lambda row: row["kind"])
    assert rows == [
        {"kind": "checkin_reward", "template_id": CHECKIN, "count": 0, "max": 50},
        {"kind": "order_completed", "template_id": ORDER, "count": 0, "max": 50},
        {"kind": "pet_hungry", "template_id": HUNGRY, "count": 3, "max": 50},
        {"kind": "streak_reminder", "template_id": STREAK, "count": 0, "max": 50},
    ]


@pytest.mark.parametrize(
    "notifications_overrides", [{"templates": {"checkin_reward": {"template_id": "tpl-only"}}}]
)
async def test_a_kind_without_a_template_id_is_not_shown_and_its_id_is_unknown(client, alice):
    _, auth = alice
    response = await client.get(PATH, headers=auth)
    assert [
        (row["kind"], row["template_id"]) for row in (await response.json())["data"]["subscriptions"]
    ] == [("checkin_reward", "tpl-only")]
    status, body = await post(client, auth, {"template_ids": [ORDER]})
    assert status == 400, body
    assert refused_fields(body) == {"template_ids"}


@pytest.mark.parametrize("notifications_overrides", [{"max_grants": 2}])
async def test_grants_are_capped_at_max_grants(client, alice):
    _, auth = alice
    for _ in range(3):
        status, body = await post(client, auth, {"template_ids": [CHECKIN]})
        assert status == 200, body
    [row] = [row for row in body["data"]["subscriptions"] if row["template_id"] == CHECKIN]
    assert (row["count"], row["max"]) == (2, 2)
    assert await counts(client, auth) == {**nothing_held(), CHECKIN: 2}


async def test_only_accept_grants_and_ban_drops_what_was_left(client, alice):
    _, auth = alice
    await grant(client, auth, "streak_reminder", times=3)
    results = {CHECKIN: "accept", ORDER: "reject", HUNGRY: "filter"}
    status, body = await post(
        client, auth, {"template_ids": [CHECKIN, ORDER, HUNGRY, STREAK], "results": results}
    )
    assert status == 200, body
    # STREAK is asked without a result: accepted, as when `results` is absent
    assert await counts(client, auth) == {**nothing_held(), CHECKIN: 1, STREAK: 4}
    status, body = await post(
        client, auth, {"template_ids": [STREAK, HUNGRY], "results": {STREAK: "ban", HUNGRY: "ban"}}
    )
    assert status == 200, body
    assert await counts(client, auth) == {**nothing_held(), CHECKIN: 1}
    await grant(client, auth, "streak_reminder")
    assert (await counts(client, auth))[STREAK] == 1  # a banned template may be accepted again


async def test_a_result_for_a_template_not_asked_is_400_naming_results(client, alice):
    _, auth = alice
    status, body = await post(
        client, auth, {"template_ids": [CHECKIN], "results": {CHECKIN: "accept", ORDER: "accept"}}
    )
    assert status == 400, body
    assert refused_fields(body) == {"results"}
    assert ORDER in body["errors"][0]["message"]
    assert await counts(client, auth) == nothing_held()


async def test_unknown_template_ids_are_400_naming_them_all_and_nothing_is_written(client, alice):
    _, auth = alice
    status, body = await post(
        client, auth, {"template_ids": [CHECKIN, "tpl-nope", ORDER, "tpl-gone", "tpl-nope"]}
    )
    assert status == 400, body
    assert body["code"] == 40001
    [error] = body["errors"]
    assert error["field"] == "template_ids"
    assert "tpl-nope, tpl-gone" in error["message"]
    assert CHECKIN not in error["message"]
    assert await counts(client, auth) == nothing_held()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "template_ids"),
        ({"template_ids": []}, "template_ids"),
        ({"template_ids": None}, "template_ids"),
        ({"template_ids": CHECKIN}, "template_ids"),
        ({"template_ids": [7]}, "template_ids.0"),
        ({"template_ids": [CHECKIN, {"id": ORDER}]}, "template_ids.1"),
        ({"template_ids": [f"tpl-{n}" for n in range(21)]}, "template_ids"),
        ({"template_ids": ["tpl checkin"]}, "template_ids.0"),
        ({"template_ids": ["tpl/checkin"]}, "template_ids.0"),
        ({"template_ids": [""]}, "template_ids.0"),
        ({"template_ids": ["x" * 129]}, "template_ids.0"),
        ({"template_ids": [CHECKIN + "\n"]}, "template_ids.0"),
        ({"template_ids": [CHECKIN], "results": [CHECKIN]}, "results"),
        ({"template_ids": [CHECKIN], "results": {CHECKIN: "yes"}}, "results"),
        ({"template_ids": [CHECKIN], "results": {CHECKIN: 1}}, "results"),
        ({"template_ids": [CHECKIN], "extra": True}, "extra"),
        ([CHECKIN], "body"),
    ],
)
async def test_a_malformed_body_is_400_in_the_envelope_and_writes_nothing(client, alice, body, field):
    _, auth = alice
    status, answer = await post(client, auth, body)
    assert status == 400, answer
    assert answer["code"] in (40001, 40002), answer
    assert answer["message"]
    assert answer.get("data") is None
    named = refused_fields(answer)
    assert any(name == field or name.startswith(field + ".") for name in named), (field, answer)
    assert await counts(client, auth) == nothing_held()


async def test_a_body_that_is_not_json_is_400(client, alice):
    _, auth = alice
    response = await client.post(
        PATH, data=b"{template_ids", headers={**auth, "Content-Type": "application/json"}
    )
    body = await response.json()
    assert response.status == 400, body
    assert body["code"] == 40002


async def test_unauthenticated_is_401(client):
    for response in (await client.get(PATH), await client.post(PATH, json={"template_ids": [CHECKIN]})):
        body = await response.json()
        assert response.status == 401, body
        assert body["code"] == 40101


async def test_a_users_counts_are_theirs_only(client, alice, bob):
    _, alice_auth = alice
    _, bob_auth = bob
    await grant(client, alice_auth, "checkin_reward", times=2)
    await grant(client, bob_auth, "order_completed")
    assert await counts(client, alice_auth) == {**nothing_held(), CHECKIN: 2}
    assert await counts(client, bob_auth) == {**nothing_held(), ORDER: 1}
    await post(client, bob_auth, {"template_ids": [CHECKIN], "results": {CHECKIN: "ban"}})
    assert (await counts(client, alice_auth))[CHECKIN] == 2


# Spending.


async def test_a_send_spends_one_grant_and_without_one_no_row_is_written(client, fake, alice, clock):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward")
    status, body = await check_in(client, auth)
    assert status == 200, body
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.kind) == ("sent", "checkin_reward")
    assert len(fake.sent) == 1
    assert await counts(client, auth) == nothing_held()

    clock.advance(timedelta(days=1))
    status, body = await check_in(client, auth)
    assert status == 200, body
    await handled(client, "checkin_reward", 2)
    assert len(await logs(client, user_id=alice_id)) == 1  # the pre-check: no grant, no row
    assert len(fake.sent) == 1


async def test_a_user_who_never_subscribed_gets_no_row(client, fake, alice, bob):
    _, alice_auth = alice
    _, bob_auth = bob
    await grant(client, bob_auth, "order_completed")  # a grant of another template is no grant
    for auth in (alice_auth, bob_auth):
        status, body = await check_in(client, auth)
        assert status == 200, body
    await handled(client, "checkin_reward", 2)
    assert await logs(client) == []
    assert fake.sent == []


async def test_a_grant_gone_when_the_consumer_sends_makes_the_row_skipped(client, fake, admin, alice):
    alice_id, _ = alice
    _, admin_auth = admin
    status, body = await admin_send(client, admin_auth, alice_id, "checkin_reward", CHECKIN_DATA)
    assert status == 202, body
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.reason) == ("skipped", "no_grant")
    assert str(row.id) == body["data"]["id"]
    assert not [call for call in fake.calls if call[0] == "subscribe_send"]


async def test_two_sends_racing_for_one_grant_send_once(client, fake, admin, alice):
    alice_id, auth = alice
    _, admin_auth = admin
    await grant(client, auth, "checkin_reward")
    for _ in range(2):
        status, body = await admin_send(client, admin_auth, alice_id, "checkin_reward", CHECKIN_DATA)
        assert status == 202, body
    rows = await settled(client, 2, user_id=alice_id)
    assert sorted((row.status, row.reason) for row in rows) == [("sent", ""), ("skipped", "no_grant")]
    assert len(fake.sent) == 1
    assert await counts(client, auth) == nothing_held()
