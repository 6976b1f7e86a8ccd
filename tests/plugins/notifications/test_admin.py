"""The operators' endpoints: ``POST /v1/admin/notifications/send`` (through the queue like any
other notification, its data checked against the kind's template and WeChat's rules), ``GET
/v1/admin/notifications`` (filters and pages) and ``POST /v1/admin/notifications/{id}/retry`` (a
dead letter sent again), with who may call them."""

from __future__ import annotations

from typing import Any

import pytest

from checkin_support import refused_fields
from notifications_support import CHECKIN_DATA, admin_send, grant, logs, sent_data, settled, template_id

LIST = "/v1/admin/notifications"
HUNGRY_DATA = {"thing1": "小白饿了", "number2": "12", "time3": "2026-06-15 12:00"}


async def listed(client, auth, query: str = "") -> dict[str, Any]:
    response = await client.get(f"{LIST}{query}", headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return body["data"]


async def retry(client, auth, log_id: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"{LIST}/{log_id}/retry", headers=auth)
    return response.status, await response.json()


async def grants_left(client, auth, kind: str) -> int:
    response = await client.get("/v1/notifications/subscriptions", headers=auth)
    rows = (await response.json())["data"]["subscriptions"]
    return next(row["count"] for row in rows if row["kind"] == kind)


# Send.


async def test_admin_send_goes_through_the_queue_and_is_sent(client, fake, admin, alice):
    alice_id, auth = alice
    _, admin_auth = admin
    await grant(client, auth, "checkin_reward")
    status, body = await admin_send(client, admin_auth, alice_id, "checkin_reward", CHECKIN_DATA)
    assert status == 202, body
    answered = body["data"]
    assert (answered["user_id"], answered["kind"], answered["template_id"]) == (
        str(alice_id),
        "checkin_reward",
        template_id("checkin_reward"),
    )
    assert answered["data"] == CHECKIN_DATA
    assert answered["page"] == "pages/checkin/index"
    assert answered["message_id"].startswith("admin:")
    assert answered["status"] in ("queued", "sent")  # the consumer may have been quicker
    [row] = await settled(client, user_id=alice_id)
    assert (str(row.id), row.status, row.attempts, row.errcode) == (answered["id"], "sent", 1, 0)
    [sent] = fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-alice", template_id("checkin_reward"))
    assert sent_data(sent) == CHECKIN_DATA
    assert await grants_left(client, auth, "checkin_reward") == 0


async def test_admin_data_over_a_things_limit_is_cut_before_it_is_queued(client, fake, admin, alice):
    alice_id, auth = alice
    _, admin_auth = admin
    await grant(client, auth, "checkin_reward")
    long = "签到成功" * 8
    status, body = await admin_send(
        client, admin_auth, alice_id, "checkin_reward", {**CHECKIN_DATA, "thing1": long}
    )
    assert status == 202, body
    assert body["data"]["data"]["thing1"] == long[:19] + "…"
    [row] = await settled(client, user_id=alice_id)
    assert row.status == "sent", (row.status, row.reason)
    assert sent_data(fake.sent[0])["thing1"] == long[:19] + "…"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"thing1": "签到成功", "number2": "3"}, ["missing date3"]),
        ({**CHECKIN_DATA, "thing4": "多余"}, ["unknown thing4"]),
        ({"thing1": "签到成功", "number2": "3", "time3": "12:00"}, ["missing date3", "unknown time3"]),
    ],
)
async def test_data_that_is_not_the_templates_fields_is_400_naming_data(client, admin, alice, data, says):
    alice_id, _ = alice
    _, admin_auth = admin
    status, body = await admin_send(client, admin_auth, alice_id, "checkin_reward", data)
    assert status == 400, body
    assert refused_fields(body) == {"data"}
    for words in says:
        assert words in body["errors"][0]["message"]
    assert await logs(client) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("number2", "abc"), ("number2", "1,000"), ("date3", "2026-13-01"), ("thing1", "   ")],
)
async def test_a_value_breaking_a_field_rule_is_400_naming_the_field(client, admin, alice, field, value):
    alice_id, _ = alice
    _, admin_auth = admin
    status, body = await admin_send(
        client, admin_auth, alice_id, "checkin_reward", {**CHECKIN_DATA, field: value}
    )
    assert status == 400, body
    assert refused_fields(body) == {f"data.{field}"}
    assert await logs(client) == []


@pytest.mark.parametrize(
    "notifications_overrides", [{"templates": {"checkin_reward": {"template_id": "tpl-checkin-reward"}}}]
)
async def test_a_kind_that_is_off_is_422(client, fake, admin, alice):
    alice_id, _ = alice
    _, admin_auth = admin
    status, body = await admin_send(client, admin_auth, alice_id, "pet_hungry", HUNGRY_DATA)
    assert status == 422, body
    assert body["code"] == 42200
    assert "pet_hungry" in body["message"]
    assert await logs(client) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "1", "kind": "birthday", "data": CHECKIN_DATA}, "kind"),
        ({"user_id": 1, "kind": "checkin_reward", "data": CHECKIN_DATA}, "user_id"),
        ({"user_id": "0", "kind": "checkin_reward", "data": CHECKIN_DATA}, "user_id"),
        ({"user_id": "1\n", "kind": "checkin_reward", "data": CHECKIN_DATA}, "user_id"),
        ({"user_id": "1", "kind": "checkin_reward", "data": {}}, "data"),
        ({"user_id": "1", "kind": "checkin_reward", "data": {"thing1": 5}}, "data"),
        ({"user_id": "1", "kind": "checkin_reward"}, "data"),
        ({"user_id": "1", "kind": "checkin_reward", "data": CHECKIN_DATA, "page": "x"}, "page"),
    ],
)
async def test_a_malformed_send_body_is_400(client, admin, body, field):
    _, admin_auth = admin
    response = await client.post(f"{LIST}/send", json=body, headers=admin_auth)
    answer = await response.json()
    assert response.status == 400, answer
    assert any(name == field or name.startswith(field + ".") for name in refused_fields(answer)), answer


async def test_an_unknown_user_is_404(client, admin):
    _, admin_auth = admin
    status, body = await admin_send(client, admin_auth, 987654321, "checkin_reward", CHECKIN_DATA)
    assert status == 404, body
    assert body["code"] == 40401
    assert await logs(client) == []


async def test_only_admins_may_call_the_admin_endpoints(client, alice):
    alice_id, auth = alice
    calls = [
        ("post", f"{LIST}/send", {"user_id": str(alice_id), "kind": "checkin_reward", "data": CHECKIN_DATA}),
        ("get", LIST, None),
        ("post", f"{LIST}/1/retry", None),
    ]
    for method, path, body in calls:
        for headers, status, code in (({}, 401, 40101), (auth, 403, 40301)):
            response = await getattr(client, method)(path, json=body, headers=headers)
            answer = await response.json()
            assert (response.status, answer["code"]) == (status, code), (method, path, answer)
    assert await logs(client) == []


# The log.


async def test_the_log_filters_by_status_kind_and_user_with_pages(client, admin, alice, bob):
    alice_id, alice_auth = alice
    bob_id, bob_auth = bob
    _, admin_auth = admin
    await grant(client, alice_auth, "checkin_reward", times=2)
    await grant(client, bob_auth, "pet_hungry")
    for _ in range(3):  # the third finds no grant left: skipped
        assert (await admin_send(client, admin_auth, alice_id, "checkin_reward", CHECKIN_DATA))[0] == 202
    assert (await admin_send(client, admin_auth, bob_id, "pet_hungry", HUNGRY_DATA))[0] == 202
    rows = await settled(client, 4)
    ids = [str(row.id) for row in reversed(rows)]  # newest first

    first = await listed(client, admin_auth, "?limit=3")
    assert (first["total"], first["page"], first["limit"], first["totalPages"]) == (4, 1, 3, 2)
    second = await listed(client, admin_auth, "?limit=3&page=2")
    assert [item["id"] for item in first["items"] + second["items"]] == ids
    assert (await listed(client, admin_auth, "?limit=3&page=3"))["items"] == []

    skipped = await listed(client, admin_auth, "?status=skipped")
    assert [(item["user_id"], item["reason"]) for item in skipped["items"]] == [(str(alice_id), "no_grant")]
    assert skipped["total"] == 1
    hungry = await listed(client, admin_auth, "?kind=pet_hungry")
    assert [(item["user_id"], item["status"]) for item in hungry["items"]] == [(str(bob_id), "sent")]
    alices = await listed(client, admin_auth, f"?user_id={alice_id}")
    assert alices["total"] == 3
    assert {item["kind"] for item in alices["items"]} == {"checkin_reward"}
    sent = await listed(client, admin_auth, f"?user_id={alice_id}&status=sent&kind=checkin_reward")
    assert sent["total"] == 2
    assert (await listed(client, admin_auth, f"?user_id={bob_id}&kind=checkin_reward"))["total"] == 0
    assert (await listed(client, admin_auth, "?status=dead"))["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "?state=dead",
        "?status=lost",
        "?kind=birthday",
        "?user_id=abc",
        "?user_id=0",
        "?limit=0",
        "?page=0",
        "?limit=101",
    ],
)
async def test_a_bad_or_unknown_query_parameter_is_400(client, admin, query):
    _, admin_auth = admin
    response = await client.get(f"{LIST}{query}", headers=admin_auth)
    body = await response.json()
    assert response.status == 400, body
    assert refused_fields(body) == {query[1:].split("=")[0]}


# Retry.


async def test_a_dead_letter_is_retried_and_sent(client, fake, admin, alice):
    alice_id, auth = alice
    _, admin_auth = admin
    await grant(client, auth, "checkin_reward")
    # -1 (busy) on every call: the client tries twice an attempt, the queue three attempts
    fake.send_script["o-alice"] = [-1] * 6
    status, body = await admin_send(client, admin_auth, alice_id, "checkin_reward", CHECKIN_DATA)
    assert status == 202, body
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.errcode, row.attempts) == ("dead", -1, 3)
    assert fake.send_script["o-alice"] == []
    assert fake.sent == []
    assert await grants_left(client, auth, "checkin_reward") == 1  # given back
    dead = await listed(client, admin_auth, "?status=dead")
    assert [item["id"] for item in dead["items"]] == [str(row.id)]

    status, body = await retry(client, admin_auth, row.id)
    assert status == 202, body
    assert body["data"]["id"] == str(row.id)
    assert body["data"]["status"] in ("queued", "sent")
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.errcode) == ("sent", 0)
    [sent] = fake.sent
    assert sent_data(sent) == CHECKIN_DATA
    assert await grants_left(client, auth, "checkin_reward") == 0
    assert (await listed(client, admin_auth, "?status=dead"))["total"] == 0

    status, body = await retry(client, admin_auth, row.id)  # sent: nothing to retry
    assert status == 409, body
    assert body["code"] == 40901
    assert len(fake.sent) == 1


async def test_retry_of_a_sent_row_is_409_and_an_unknown_one_404(client, fake, admin, alice):
    alice_id, auth = alice
    _, admin_auth = admin
    await grant(client, auth, "checkin_reward")
    assert (await admin_send(client, admin_auth, alice_id, "checkin_reward", CHECKIN_DATA))[0] == 202
    [row] = await settled(client, user_id=alice_id)
    assert row.status == "sent"
    status, body = await retry(client, admin_auth, row.id)
    assert status == 409, body
    assert "sent" in body["message"]
    status, body = await retry(client, admin_auth, row.id + 1000)
    assert (status, body["code"]) == (404, 40401)
    [row] = await logs(client)
    assert row.status == "sent"
    assert len(fake.sent) == 1


@pytest.mark.parametrize("log_id", ["abc", "1.5", "-1", "0", "1e3"])
async def test_retry_of_a_non_digit_id_is_400(client, admin, log_id):
    _, admin_auth = admin
    status, body = await retry(client, admin_auth, log_id)
    assert status == 400, body
    assert refused_fields(body) == {"id"}
