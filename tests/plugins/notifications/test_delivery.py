"""What each answer of subscribeMessage.send makes of a notification, through the real queue
consumer: sent (grant spent), refused by the user (spent, not retried), a request WeChat rejects
(failed, not retried, grant given back), transient failures (retried with the queue's backoff,
each delivery counted in ``attempts``) until sent or dead (grant given back, listed as a dead
letter, retried by an operator), and an access token WeChat no longer takes (refreshed once and
the send made again within the same attempt).

The fake WeChat answers ``send_script["o-alice"]`` one entry per call. The client retries a busy
answer (-1), an HTTP 5xx and a timeout once by itself, so one failed delivery of those takes two
entries; 45009 is not retried by the client, so it takes one.
"""

from __future__ import annotations

import aiohttp
import pytest

from fakes.wechat import APPID, SECRET
from notifications_support import (
    CHECKIN_DATA,
    grant,
    grants_left,
    queued,
    send_calls,
    sent_data,
    settled,
    template_id,
)

ALICE = "o-alice"
TEMPLATE = template_id("checkin_reward")


async def test_a_send_answered_0_is_sent_and_spends_one_grant(client, fake, admin, alice):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward", times=2)
    row = await queued(client, admin[1], alice_id)
    assert row["status"] == "queued"
    [done] = await settled(client, id=int(row["id"]))
    assert (done.status, done.errcode, done.attempts, done.reason) == ("sent", 0, 1, "")
    assert done.sent_at is not None
    [body] = send_calls(fake, ALICE)
    assert body["template_id"] == TEMPLATE
    assert body["page"] == "pages/checkin/index"
    assert sent_data(body) == CHECKIN_DATA
    assert fake.sent == [body]
    assert (await grants_left(client, auth))[TEMPLATE] == 1


@pytest.mark.parametrize(
    ("errcode", "status", "grants_after"),
    [
        pytest.param(43101, "refused", 0, id="43101-user-refused-spends-the-grant"),
        pytest.param(40003, "failed", 1, id="40003-bad-openid-gives-the-grant-back"),
        pytest.param(47003, "failed", 1, id="47003-bad-data-gives-the-grant-back"),
    ],
)
async def test_an_answer_that_retrying_cannot_change_is_final_at_once(
    client, fake, admin, alice, errcode, status, grants_after
):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward")
    # A send after the scripted one would succeed: a retry would turn the row into "sent".
    fake.send_script[ALICE] = [errcode]
    row = await queued(client, admin[1], alice_id)
    [done] = await settled(client, id=int(row["id"]))
    assert (done.status, done.errcode, done.attempts) == (status, errcode, 1)
    assert str(errcode) in done.reason
    assert done.sent_at is None
    assert len(send_calls(fake, ALICE)) == 1
    assert fake.sent == []
    assert (await grants_left(client, auth))[TEMPLATE] == grants_after


@pytest.mark.parametrize(
    ("script", "attempts"),
    [
        pytest.param([-1, -1], 2, id="busy"),
        pytest.param([45009], 2, id="45009-quota"),
        pytest.param(["http500", "http500"], 2, id="http500"),
        pytest.param(["slow", "slow"], 2, id="timeout"),
        pytest.param([-1, -1, 45009], 3, id="busy-then-quota"),
    ],
)
async def test_a_transient_failure_is_retried_until_sent(client, fake, admin, alice, script, attempts):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward", times=2)
    fake.send_script[ALICE] = list(script)
    row = await queued(client, admin[1], alice_id)
    [done] = await settled(client, id=int(row["id"]))
    assert (done.status, done.errcode, done.reason) == ("sent", 0, "")
    assert done.attempts == attempts
    assert fake.send_script[ALICE] == []
    # Every scripted failure was a call, and the send that went through the last one.
    assert len(send_calls(fake, ALICE)) == len(script) + 1
    # One grant spent however many attempts it took (a timed-out call may still have reached
    # WeChat: the fake records those late, so fake.sent is not what is counted here).
    assert (await grants_left(client, auth))[TEMPLATE] == 1


async def test_still_failing_after_the_last_attempt_is_a_dead_letter_an_operator_retries(
    client, fake, admin, alice
):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward")
    fake.send_script[ALICE] = [45009, 45009, 45009]  # queue.max_attempts is 3 in the tests
    row = await queued(client, admin[1], alice_id)
    [dead] = await settled(client, id=int(row["id"]))
    assert (dead.status, dead.errcode, dead.attempts) == ("dead", 45009, 3)
    assert len(send_calls(fake, ALICE)) == 3
    assert fake.sent == []
    assert (await grants_left(client, auth))[TEMPLATE] == 1  # given back

    listed = await client.get("/v1/admin/notifications", params={"status": "dead"}, headers=admin[1])
    page = (await listed.json())["data"]
    assert [item["id"] for item in page["items"]] == [row["id"]]
    assert page["items"][0]["errcode"] == 45009
    others = await client.get("/v1/admin/notifications", params={"status": "sent"}, headers=admin[1])
    assert (await others.json())["data"]["items"] == []

    retried = await client.post(f"/v1/admin/notifications/{row['id']}/retry", headers=admin[1])
    assert retried.status == 202, await retried.json()
    [done] = await settled(client, id=int(row["id"]))
    assert (done.status, done.errcode, done.attempts) == ("sent", 0, 4)
    assert len(fake.sent) == 1
    assert (await grants_left(client, auth))[TEMPLATE] == 0


async def test_an_expired_token_is_refreshed_once_and_the_send_made_again(client, fake, admin, alice):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward", times=2)
    first = await queued(client, admin[1], alice_id)
    await settled(client, id=int(first["id"]))
    assert (fake.stable_token_calls, fake.tokens_issued) == (1, 1)

    fake.expire_token()
    row = await queued(client, admin[1], alice_id)
    [done] = await settled(client, id=int(row["id"]))
    assert (done.status, done.attempts) == ("sent", 1)
    assert (fake.stable_token_calls, fake.tokens_issued) == (2, 2)
    assert len(send_calls(fake, ALICE)) == 3  # the first send, then 42001 and its retry
    assert len(fake.sent) == 2
    assert (await grants_left(client, auth))[TEMPLATE] == 0


async def test_a_token_replaced_elsewhere_is_refreshed_once_and_the_send_made_again(
    client, fake, admin, alice
):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward", times=2)
    first = await queued(client, admin[1], alice_id)
    await settled(client, id=int(first["id"]))
    cached = fake.current_token()

    # Another holder of the AppSecret forces a refresh: the token this app cached answers 40001.
    async with aiohttp.ClientSession() as session:
        body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": True}
        async with session.post(f"{fake.base}/cgi-bin/stable_token", json=body) as response:
            replaced = (await response.json())["access_token"]
    assert replaced != cached
    calls_before = fake.stable_token_calls

    row = await queued(client, admin[1], alice_id)
    [done] = await settled(client, id=int(row["id"]))
    assert (done.status, done.attempts) == ("sent", 1)
    assert fake.stable_token_calls == calls_before + 1  # the app asked once, in the normal mode
    assert fake.tokens_issued == 2
    assert len(send_calls(fake, ALICE)) == 3
    assert len(fake.sent) == 2
