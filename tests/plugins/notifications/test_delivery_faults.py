"""Exactly once as the user sees it, whatever the queue and the processes do: a message delivered
again after its send was recorded, two deliveries of one row at once, a crash between the record
and the ack, a RabbitMQ restart between publish and consume, and two processes that both need
an access token at once (one ``stable_token`` call between them).

The WeChat timeout is 5 s here (0.5 s elsewhere): a send held by the fake must not time out and
be retried by the client while the test looks at the deliveries around it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest

from mengchong.keys import queue_key
from mengchong.storage.queue import Message
from mengchong_plugins.notifications import delivery
from notifications_support import (
    ADMIN,
    deliver_now,
    grant,
    grants_left,
    logs,
    queued,
    send_calls,
    settled,
    template_id,
    user,
)
from support import AMQP_URL, IN_CI, eventually

ALICE, BOB = "o-alice", "o-bob"
TEMPLATE = template_id("checkin_reward")
SERVICES_ONLY = pytest.mark.parametrize(
    "profile", [pytest.param("services", marks=pytest.mark.services)], indirect=True
)
"""A test of two processes sharing the cache and the broker: the embedded profile has neither."""


@pytest.fixture
def settings(settings):
    wechat = settings.wechat.model_copy(update={"timeout_seconds": 5.0})
    return settings.model_copy(update={"wechat": wechat})


async def test_a_message_delivered_again_after_the_send_sends_nothing(client, fake, admin, alice, bob):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward", times=2)
    row = await queued(client, admin[1], alice_id)
    await settled(client, id=int(row["id"]))
    for _ in range(2):  # the broker delivering it again, as after a lost ack
        await client.server.app[queue_key].publish(
            delivery.QUEUE, {"log_id": int(row["id"])}, message_id=row["message_id"]
        )
    # A later message that takes a retry to go through: once it is sent, the consumer has long
    # taken the two before it.
    await grant(client, bob[1], "checkin_reward")
    fake.send_script[BOB] = ["http500", "http500"]
    marker = await queued(client, admin[1], bob[0])
    [after] = await settled(client, id=int(marker["id"]))
    assert (after.status, after.attempts) == ("sent", 2)

    assert len(send_calls(fake, ALICE)) == 1
    [done] = await logs(client, id=int(row["id"]))
    assert (done.status, done.attempts) == ("sent", 1)
    assert (await grants_left(client, auth))[TEMPLATE] == 1


async def test_a_delivery_after_the_send_was_recorded_but_not_acknowledged_sends_nothing(
    client, fake, admin, alice
):
    """The process died after recording the send, before the ack: the broker delivers again."""
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward", times=2)
    row = await queued(client, admin[1], alice_id)
    [sent] = await settled(client, id=int(row["id"]))
    for attempt in (1, 2, 3):
        await deliver_now(client, row, attempt)
    assert len(send_calls(fake, ALICE)) == 1
    [again] = await logs(client, id=int(row["id"]))
    assert (again.status, again.attempts, again.sent_at) == ("sent", 1, sent.sent_at)
    assert (await grants_left(client, auth))[TEMPLATE] == 1


async def test_two_deliveries_of_one_row_at_once_reach_wechat_once(make_quiet_client, settings, fake, clock):
    """The fake holds the first send (``"hold"``: the overlap is certain, not a matter of timing);
    the other delivery finds the row claimed and asks the queue to try later."""
    quiet = await make_quiet_client(settings, clock=clock)
    _, admin_auth = await user(quiet, ADMIN)
    alice_id, auth = await user(quiet, "alice")
    await grant(quiet, auth, "checkin_reward", times=2)
    row = await queued(quiet, admin_auth, alice_id)
    fake.send_script[ALICE] = ["hold"]

    deliveries = [asyncio.create_task(deliver_now(quiet, row)) for _ in range(2)]
    try:
        await eventually(
            lambda: len(send_calls(fake, ALICE)) == 1 and any(task.done() for task in deliveries)
        )
        [refused] = [task for task in deliveries if task.done()]
        with pytest.raises(delivery.RetryLater):
            refused.result()
        [holder] = [task for task in deliveries if not task.done()]
    finally:
        fake.release_held()
    await holder

    [done] = await logs(quiet, id=int(row["id"]))
    assert (done.status, done.attempts) == ("sent", 1)
    # The queue's retry of the refused delivery comes after the send: it finds it done.
    await deliver_now(quiet, row, attempt=2)
    assert len(send_calls(fake, ALICE)) == 1
    assert len(fake.sent) == 1
    assert (await grants_left(quiet, auth))[TEMPLATE] == 1


async def test_a_last_attempt_finding_the_row_claimed_queues_it_afresh(
    make_quiet_client, settings, fake, clock
):
    """The queue buries a message whose last attempt fails: had the holder of the row died, no
    message would be left to send it. So the last attempt publishes the row again instead."""
    quiet = await make_quiet_client(settings, clock=clock)
    _, admin_auth = await user(quiet, ADMIN)
    alice_id, auth = await user(quiet, "alice")
    await grant(quiet, auth, "checkin_reward")
    row = await queued(quiet, admin_auth, alice_id)
    fake.send_script[ALICE] = ["hold"]
    holder = asyncio.create_task(deliver_now(quiet, row))
    try:
        await eventually(lambda: len(send_calls(fake, ALICE)) == 1)
        with pytest.raises(delivery.RetryLater):
            await deliver_now(quiet, row, attempt=2)  # the queue will try again
        await deliver_now(quiet, row, attempt=3)  # queue.max_attempts: nothing raised, nothing buried
    finally:
        fake.release_held()
    await holder

    received: list[Message] = []

    async def collect(message: Message) -> None:
        received.append(message)

    # Waiting in the queue: the operator's message and the one published afresh.
    await quiet.server.app[queue_key].consume(delivery.QUEUE, collect)
    await eventually(lambda: len(received) == 2)
    assert {(m.message_id, m.attempt) for m in received} == {(row["message_id"], 1)}
    assert [m.body for m in received] == [{"log_id": int(row["id"])}] * 2
    for message in received:
        await deliver_now(quiet, row, message.attempt)
    assert len(send_calls(fake, ALICE)) == 1
    [done] = await logs(quiet, id=int(row["id"]))
    assert (done.status, done.attempts) == ("sent", 1)


# --- Two processes on the services profile ---------------------------------------------------


RESTART_OPT_IN = "MENGCHONG_TEST_RESTART_BROKER"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=120)


async def _broker_accepts() -> bool:
    host = urlsplit(AMQP_URL)
    try:
        _, writer = await asyncio.open_connection(host.hostname, host.port or 5672)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _restart_broker() -> None:
    """``rabbitmqctl stop_app`` then ``start_app``; returns once the broker takes connections
    again, also when stopping failed half-way."""
    try:
        await asyncio.to_thread(_rabbitmqctl, "stop_app")
    finally:
        await asyncio.to_thread(_rabbitmqctl, "start_app")
        await asyncio.to_thread(_rabbitmqctl, "await_startup")
        await eventually(_broker_accepts, timeout=60)


@SERVICES_ONLY
async def test_a_message_survives_a_rabbitmq_restart_between_publish_and_consume(
    make_quiet_client, make_client, settings, fake, clock
):
    if shutil.which("rabbitmqctl") is None or urlsplit(AMQP_URL).hostname not in ("127.0.0.1", "localhost"):
        reason = f"restarting RabbitMQ needs rabbitmqctl and the broker on this machine ({AMQP_URL})"
        if IN_CI:  # services tests never skip in CI
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    if not (IN_CI or os.environ.get(RESTART_OPT_IN) == "1"):
        # Restarting the broker breaks any other run using it for a few seconds: on a shared
        # development machine only when asked; in CI the run owns its services.
        pytest.skip(f"restarts the shared RabbitMQ: runs in CI, or locally with {RESTART_OPT_IN}=1")
    # A process that publishes and stops before anything consumes.
    publisher = await make_quiet_client(settings, clock=clock)
    _, admin_auth = await user(publisher, ADMIN)
    rows = []
    for name in ("alice", "bob"):
        user_id, auth = await user(publisher, name)
        await grant(publisher, auth, "checkin_reward")
        rows.append(await queued(publisher, admin_auth, user_id))
    await publisher.close()

    await _restart_broker()

    consumer = await make_client(settings, clock=clock)
    done = await settled(consumer, 2)
    assert [(row.id, row.status, row.attempts) for row in done] == [(int(r["id"]), "sent", 1) for r in rows]
    assert len(send_calls(fake, ALICE)) == 1
    assert len(send_calls(fake, BOB)) == 1
    assert len(fake.sent) == 2


@SERVICES_ONLY
async def test_two_processes_needing_a_token_at_once_fetch_it_once(make_quiet_client, settings, fake, clock):
    first = await make_quiet_client(settings, clock=clock)
    second = await make_quiet_client(settings, clock=clock)  # same database, Redis prefix, queues
    _, admin_auth = await user(first, ADMIN)
    rows = []
    for client, name in ((first, "alice"), (second, "bob")):
        user_id, auth = await user(client, name)
        await grant(client, auth, "checkin_reward")
        rows.append(await queued(client, admin_auth, user_id))
    fake.token_delay = 1.0  # the first asker is still waiting for WeChat when the second asks

    await asyncio.gather(deliver_now(first, rows[0]), deliver_now(second, rows[1]))

    assert fake.stable_token_calls == 1
    assert fake.tokens_issued == 1
    assert [row.status for row in await logs(first)] == ["sent", "sent"]
    assert len(send_calls(fake, ALICE)) == len(send_calls(fake, BOB)) == 1
