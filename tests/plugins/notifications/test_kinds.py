"""Each kind end to end, from the other plugins' events to what reaches the fake WeChat: a
check-in's reward, a completed order, a pet left hungry (once a local day per pet); the user's
prefs turning each off; a kind without a template id; and WeChat's field rules as configured
(too long is cut, a bad template refuses to start)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from checkin_support import TODAY, balance, check_in
from mall_support import give_points, insert_product, ordered
from mengchong.app import create_app
from mengchong.config import ConfigError
from mengchong.keys import database_key, events_key
from mengchong.storage.models import OutboxEvent
from notifications_support import grant, handled, logs, sent_data, settled, template_id
from pets_support import act, adopted
from support import eventually, settings_from


async def put_prefs(client, auth, **prefs: bool) -> dict[str, bool]:
    response = await client.put("/v1/users/settings", json={"notification_prefs": prefs}, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return body["data"]["notification_prefs"]


async def pet(client, auth, pet_id: str, clock) -> dict[str, Any]:
    """Pet the pet a minute after the last interaction (past petting's cooldown); its status."""
    clock.advance(timedelta(minutes=1))
    response, body = await act(client, auth, pet_id, "petting")
    assert response.status == 200, body
    return body["data"]


# Check-in.


async def test_a_checkin_sends_checkin_reward_with_the_default_fields(client, fake, alice):
    alice_id, auth = alice
    await grant(client, auth, "checkin_reward")
    status, body = await check_in(client, auth)
    assert status == 200, body
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.kind, row.message_id.split(":")[0]) == (
        "sent",
        "checkin_reward",
        "checkin_reward",
    )
    [sent] = fake.sent
    assert (sent["touser"], sent["template_id"], sent["page"]) == (
        "o-alice",
        template_id("checkin_reward"),
        "pages/checkin/index",
    )
    expected = {"thing1": "签到成功，获得10积分", "number2": "1", "date3": TODAY.isoformat()}
    assert sent_data(sent) == expected
    assert row.data == expected


async def test_checkin_reminder_off_means_no_checkin_reward(client, fake, alice, bob):
    _, alice_auth = alice
    bob_id, bob_auth = bob
    for auth in (alice_auth, bob_auth):
        await grant(client, auth, "checkin_reward")
    assert (await put_prefs(client, alice_auth, checkin_reminder=False))["checkin_reminder"] is False
    for auth in (alice_auth, bob_auth):
        status, body = await check_in(client, auth)
        assert status == 200, body
    await handled(client, "checkin_reward", 2)
    [row] = await settled(client)
    assert row.user_id == bob_id  # type: ignore[attr-defined]
    assert [sent["touser"] for sent in fake.sent] == ["o-bob"]


# Orders.


async def test_an_order_sends_order_completed_once_activity_push_is_on(client, fake, alice):
    alice_id, auth = alice
    await grant(client, auth, "order_completed", times=2)
    await give_points(client, alice_id, 100)
    product = await insert_product(client, name="小鱼干", points_cost=10)
    first = await ordered(client, auth, product["product_id"], 2)
    await handled(client, "order_completed", 1)
    assert await logs(client) == []  # activity_push is off until the user turns it on
    assert fake.sent == []

    assert (await put_prefs(client, auth, activity_push=True))["activity_push"] is True
    second = await ordered(client, auth, product["product_id"], 3)
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.kind) == ("sent", "order_completed")
    [sent] = fake.sent
    assert (sent["template_id"], sent["page"]) == (template_id("order_completed"), "pages/mall/orders")
    assert sent_data(sent) == {
        "character_string1": second["order_id"],
        "thing2": "小鱼干 x3",
        "number3": "30",
        "time4": f"{TODAY.isoformat()} 12:00",
    }
    assert first["order_id"] != second["order_id"]


# Pets.


async def test_a_pet_left_hungry_sends_pet_hungry_once_a_local_day(client, fake, alice, clock):
    alice_id, auth = alice
    await grant(client, auth, "pet_hungry", times=5)
    white = await adopted(client, auth, name="小白")
    black = await adopted(client, auth, name="小黑")
    fed = await pet(client, auth, white["pet_id"], clock)
    assert fed["updated_status"]["hunger"] >= 30  # adopted at 80: not hungry
    await handled(client, "pet_hungry", 1)
    assert await logs(client) == []

    clock.advance(timedelta(hours=13))  # 01:01 the next local day: satiety 80 - 13 * 4 = 28
    hungry = await pet(client, auth, white["pet_id"], clock)
    assert hungry["updated_status"]["hunger"] < 30
    [row] = await settled(client, user_id=alice_id)
    assert (row.status, row.kind) == ("sent", "pet_hungry")
    [sent] = fake.sent
    assert sent["template_id"] == template_id("pet_hungry")
    assert sent_data(sent) == {
        "thing1": "小白饿了，快来喂喂它",
        "number2": str(int(hungry["updated_status"]["hunger"] + 0.5)),
        "time3": "2026-06-16 01:02",
    }

    await pet(client, auth, white["pet_id"], clock)  # still hungry, the same local day: nothing
    await pet(client, auth, black["pet_id"], clock)  # another pet: its own message
    await handled(client, "pet_hungry", 3)
    assert len(await settled(client, 2)) == 2
    assert [sent_data(sent)["thing1"] for sent in fake.sent] == [
        "小白饿了，快来喂喂它",
        "小黑饿了，快来喂喂它",
    ]

    clock.advance(timedelta(days=1))  # the next local day: the still hungry pet is news again
    await pet(client, auth, white["pet_id"], clock)
    rows = await settled(client, 3)
    assert [row.status for row in rows] == ["sent"] * 3
    assert sorted(row.message_id for row in rows) == sorted(
        [
            f"pet_hungry:{white['pet_id']}:2026-06-16",
            f"pet_hungry:{black['pet_id']}:2026-06-16",
            f"pet_hungry:{white['pet_id']}:2026-06-17",
        ]
    )
    assert len(fake.sent) == 3


@pytest.mark.parametrize("notifications_overrides", [{"hunger_threshold": 100}])
async def test_pet_status_alert_off_means_no_pet_hungry(client, fake, alice, clock):
    alice_id, auth = alice
    await grant(client, auth, "pet_hungry")
    white = await adopted(client, auth)
    await put_prefs(client, auth, pet_status_alert=False)
    await pet(client, auth, white["pet_id"], clock)  # below a threshold of 100: any interaction
    await handled(client, "pet_hungry", 1)
    assert await logs(client) == []

    await put_prefs(client, auth, pet_status_alert=True)
    await pet(client, auth, white["pet_id"], clock)
    [row] = await settled(client, user_id=alice_id)
    assert row.status == "sent"
    assert len(fake.sent) == 1


# A kind that is off.


@pytest.mark.parametrize(
    "notifications_overrides", [{"templates": {"pet_hungry": {"template_id": "tpl-pet-hungry"}}}]
)
async def test_a_kind_without_a_template_id_has_no_subscriber_and_sends_nothing(client, fake, alice):
    _, auth = alice
    app = client.server.app
    subscribers = {subscriber.name for subscriber in app[events_key].subscribers}
    assert "notifications.pets" in subscribers
    assert not {"notifications.checkin", "notifications.orders"} & subscribers
    status, body = await check_in(client, auth)
    assert status == 200, body

    async def relayed() -> bool:
        with app[database_key].activate():
            return await OutboxEvent.filter(name="checkin.completed", relayed_at__isnull=True).count() == 0

    await eventually(relayed)  # and dropped: nothing subscribes to it
    assert await logs(client) == []
    assert not [call for call in fake.calls if call[0] == "subscribe_send"]


# Field rules.

LONG_THING = "签到成功！恭喜你今天获得了{reward_points}积分，明天也要来签到"


@pytest.mark.parametrize(
    "notifications_overrides",
    [
        {
            "templates": {
                "checkin_reward": {
                    "template_id": "tpl-checkin-long",
                    "fields": {"thing1": LONG_THING, "number2": "{balance}", "time3": "{time}"},
                }
            }
        }
    ],
)
async def test_a_thing_over_20_characters_is_sent_cut_with_an_ellipsis(client, fake, alice):
    alice_id, auth = alice
    counts = await client.post(
        "/v1/notifications/subscriptions", json={"template_ids": ["tpl-checkin-long"]}, headers=auth
    )
    assert counts.status == 200, await counts.json()
    status, body = await check_in(client, auth)
    assert status == 200, body
    [row] = await settled(client, user_id=alice_id)
    assert row.status == "sent", (row.status, row.reason)
    full = LONG_THING.format(reward_points=10)
    assert len(full) > 20
    [sent] = fake.sent
    data = sent_data(sent)
    assert data["thing1"] == full[:19] + "…"
    assert len(data["thing1"]) == 20
    assert data["number2"] == str(await balance(client, alice_id))
    assert data["time3"] == f"{TODAY.isoformat()} 12:00"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"thing1": "{pet_nickname}饿了"}, ["thing1", "pet_nickname", "not among the known names"]),
        ({"thing1": "{pet_name}", "enum2": "{hunger}"}, ["enum2", "unknown WeChat field type"]),
        ({"thing1": "{pet_name}", "number2": "many"}, ["number2", "is not a number"]),
    ],
)
def test_a_template_with_bad_fields_fails_at_settings_load(tmp_path, fields, named):
    settings = settings_from(
        {"app": {"env": "test"}, "files": {"root": str(tmp_path)}},
        plugins={"enabled": ["pets", "notifications"]},
        notifications={"templates": {"pet_hungry": {"template_id": "tpl-pet-hungry", "fields": fields}}},
    )
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    message = str(caught.value)
    assert "templates.pet_hungry.fields" in message
    for words in named:
        assert words in message
