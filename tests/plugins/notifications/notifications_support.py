"""Helpers of the notification tests: the configured templates, users logged in through the fake
WeChat, grants given over the API, and reads of the notification log. Fixtures are in conftest.py."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from mengchong.keys import database_key, metrics_key
from mengchong_plugins.notifications.fields import RULES
from mengchong_plugins.notifications.models import FINAL, NotificationLog
from support import bearer, eventually

Auth = dict[str, str]
CUT_KEYS = ["thing1", "short_thing2", "phrase3", "name4"]
"""Field keys of the types WeChat cuts to their limit, for the field-rule tests."""
STRICT_KEYS = [f"{kind}1" for kind, rule in RULES.items() if not rule.cut]
"""Field keys of the types sent unchanged or refused."""
ADMIN = "notify-admin"
"""The admin's login name: openid ``o-notify-admin`` is in ``auth.admin_openids``."""

TEMPLATES: dict[str, dict[str, str]] = {
    "checkin_reward": {"template_id": "tpl-checkin-reward"},
    "order_completed": {"template_id": "tpl-order-completed"},
    "pet_hungry": {"template_id": "tpl-pet-hungry"},
    "streak_reminder": {"template_id": "tpl-streak-reminder"},
}
"""Every kind on, with the default fields and pages."""


def template_id(kind: str) -> str:
    return TEMPLATES[kind]["template_id"]


async def user(client: TestClient, name: str) -> tuple[int, Auth]:
    """Log in through the fake WeChat as openid ``o-<name>``; returns the user id and the header."""
    response = await client.post("/v1/auth/wechat_login", json={"code": f"code-{name}"})
    body = await response.json()
    assert response.status == 200, body
    return int(body["data"]["user_info"]["user_id"]), bearer(body["data"]["token"])


async def grant(client: TestClient, auth: Auth, *kinds: str, times: int = 1) -> dict[str, int]:
    """Accept each kind's template ``times`` times over the API; returns the counts by template id."""
    body: dict[str, Any] = {}
    for _ in range(times):
        response = await client.post(
            "/v1/notifications/subscriptions",
            json={"template_ids": [template_id(k) for k in kinds]},
            headers=auth,
        )
        body = await response.json()
        assert response.status == 200, body
    return {row["template_id"]: row["count"] for row in body["data"]["subscriptions"]}


async def logs(client: TestClient, **filters: Any) -> list[NotificationLog]:
    """The notification rows (oldest first) matching ``filters``."""
    with client.server.app[database_key].activate():
        return await NotificationLog.filter(**filters).order_by("id")


async def settled(client: TestClient, count: int = 1, **filters: Any) -> list[NotificationLog]:
    """Wait until ``count`` rows matching ``filters`` exist and all are final; returns them."""
    found: list[NotificationLog] = []

    async def check() -> bool:
        nonlocal found
        found = await logs(client, **filters)
        return len(found) >= count and all(row.status in FINAL for row in found)

    await eventually(check)
    return found


EVENT_OF_KIND: dict[str, tuple[str, str]] = {
    "checkin_reward": ("checkin.completed", "notifications.checkin"),
    "order_completed": ("order.created", "notifications.orders"),
    "pet_hungry": ("pet.interacted", "notifications.pets"),
}
"""The event and the notifications subscriber that turn it into each kind."""


async def handled(client: TestClient, kind: str, count: int) -> None:
    """Wait until the subscriber of ``kind``'s event has handled ``count`` events (its handler
    returned, as the events metric counts): whatever it was to queue is queued by then."""
    event, subscriber = EVENT_OF_KIND[kind]
    registry = client.server.app[metrics_key].registry
    labels = {"name": event, "subscriber": subscriber, "outcome": "ok"}

    async def check() -> bool:
        return (registry.get_sample_value("mengchong_events_total", labels) or 0) >= count

    await eventually(check)


def sent_data(sent: dict[str, Any]) -> dict[str, str]:
    """A subscribeMessage.send body's data as ``{"thing1": "value"}``."""
    return {key: item["value"] for key, item in sent["data"].items()}


CHECKIN_DATA = {"thing1": "签到成功，获得10积分", "number2": "3", "date3": "2026-06-15"}
"""Admin data that fits the checkin_reward template's default fields."""


async def admin_send(
    client: TestClient, auth: Auth, user_id: int | str, kind: str, data: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """``POST /v1/admin/notifications/send``; the status and the envelope."""
    body = {"user_id": str(user_id), "kind": kind, "data": data}
    response = await client.post("/v1/admin/notifications/send", json=body, headers=auth)
    return response.status, await response.json()


def send_calls(fake: Any, openid: str) -> list[dict[str, Any]]:
    """The subscribeMessage.send requests the fake WeChat received for ``openid`` (answered or not)."""
    return [body for name, body in fake.calls if name == "subscribe_send" and body.get("touser") == openid]


async def grants_left(client: TestClient, auth: Auth) -> dict[str, int]:
    """``GET /v1/notifications/subscriptions`` as counts by template id."""
    response = await client.get("/v1/notifications/subscriptions", headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return {row["template_id"]: row["count"] for row in body["data"]["subscriptions"]}


async def queued(client: TestClient, auth: Auth, user_id: int) -> dict[str, Any]:
    """An operator's checkin_reward for ``user_id`` (CHECKIN_DATA); the queued row as the API shows it."""
    status, body = await admin_send(client, auth, user_id, "checkin_reward", CHECKIN_DATA)
    assert status == 202, body
    return body["data"]


async def deliver_now(client: TestClient, row: dict[str, Any], attempt: int = 1) -> None:
    """Run the queue consumer's handler on ``row``'s message in the test, as a delivery would."""
    from mengchong.storage.queue import Message
    from mengchong_plugins.notifications import delivery

    app = client.server.app
    message = Message(delivery.QUEUE, {"log_id": int(row["id"])}, row["message_id"], attempt)
    with app[database_key].activate():
        await delivery.deliver(app, message)
