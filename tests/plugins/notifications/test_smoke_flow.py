"""A first end-to-end pass: consent, a check-in's reward message sent through the queue to the
fake WeChat, and the log row it leaves."""

from __future__ import annotations

from notifications_support import grant, settled, template_id


async def test_checkin_reward_is_sent_once_with_a_grant(client, fake, alice):
    alice_id, auth = alice
    counts = await grant(client, auth, "checkin_reward")
    assert counts[template_id("checkin_reward")] == 1
    response = await client.post("/v1/checkin", headers=auth)
    assert response.status == 200, await response.json()
    [row] = await settled(client, user_id=alice_id)
    assert row.status == "sent", (row.status, row.reason)
    assert row.kind == "checkin_reward"
    [sent] = fake.sent
    assert sent["touser"] == "o-alice"
    assert sent["template_id"] == template_id("checkin_reward")
    counts = await grant(client, auth, "order_completed")
    assert counts[template_id("checkin_reward")] == 0
