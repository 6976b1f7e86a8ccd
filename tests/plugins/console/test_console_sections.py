"""The plugins' pages of the console, on both profiles: the mall's products (created through a
form that applies once however often it is sent, then on the public list; off the shelf; stock)
and orders, and the notifications' log with a dead letter retried. Every change is in the audit
log, and a refused form leaves nothing behind."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from console_support import add_operator, get_page, sign_in, token_in

from mengchong.keys import database_key
from mengchong_plugins.console.models import AuditEntry
from mengchong_plugins.mall.models import AdminLog
from mengchong_plugins.notifications.models import NotificationLog
from support import bearer, eventually, login

KEYS = re.compile(r'name="form_key" value="([^"]+)"')
PRODUCT = {
    "name": "Console fish",
    "type": "virtual_pet_food",
    "category": "food",
    "item_id": "food.fish",
    "points_cost": "15",
    "stock_quantity": "3",
    "description": "",
}


async def operator_on(client, page: str) -> tuple[str, list[str]]:
    """The CSRF token and the form keys of ``page`` (signed in first)."""
    status, html = await get_page(client, page)
    assert status == 200, html[:300]
    return token_in(html), KEYS.findall(html)


async def signed_in_with_a_product(client) -> tuple[str, str]:
    """Sign in and create PRODUCT through the console; its id and the products page after."""
    await add_operator(client)
    await sign_in(client)
    csrf, keys = await operator_on(client, "/admin/s/mall-products")
    await client.post("/admin/s/mall-products/create", data={"_csrf": csrf, "form_key": keys[0], **PRODUCT})
    _, html = await get_page(client, "/admin/s/mall-products")
    return re.search(r'name="key" value="([0-9a-f]{32})"', html).group(1), html


async def public_names(client) -> list[str]:
    listed = await (await client.get("/v1/mall/products?limit=100")).json()
    return [item["name"] for item in listed["data"]["items"]]


async def audit_actions(client) -> list[str]:
    with client.server.app[database_key].activate():
        return [row.action for row in await AuditEntry.all().order_by("id")]


async def test_a_product_made_in_the_console_is_on_the_public_list_once(client):
    await add_operator(client)
    await sign_in(client)
    csrf, keys = await operator_on(client, "/admin/s/mall-products")
    form = {"_csrf": csrf, "form_key": keys[0], **PRODUCT}
    for _ in range(2):  # a double click: the second finds the form done
        response = await client.post("/admin/s/mall-products/create", data=form, allow_redirects=False)
        assert response.status == 303
    assert await public_names(client) == ["Console fish"]
    _, html = await get_page(client, "/admin/s/mall-products")
    assert "Console fish" in html
    assert await audit_actions(client) == ["mall-products.create"]
    with client.server.app[database_key].activate():
        assert [row.operator for row in await AdminLog.all()] == ["console"]


async def test_a_refused_product_form_says_why_and_can_be_sent_again_fixed(client):
    await add_operator(client)
    await sign_in(client)
    csrf, keys = await operator_on(client, "/admin/s/mall-products")
    bad = {"_csrf": csrf, "form_key": keys[0], **PRODUCT, "points_cost": "0"}
    response = await client.post("/admin/s/mall-products/create", data=bad, allow_redirects=False)
    assert response.status == 400
    assert "points_cost" in await response.text()
    unknown_item = {**bad, "points_cost": "15", "item_id": "no.such.item"}
    response = await client.post("/admin/s/mall-products/create", data=unknown_item, allow_redirects=False)
    assert response.status == 400
    assert await public_names(client) == []
    fixed = {**bad, "points_cost": "15"}
    assert (
        await client.post("/admin/s/mall-products/create", data=fixed, allow_redirects=False)
    ).status == 303
    assert await public_names(client) == ["Console fish"]


async def test_shelf_and_stock_are_changed_per_row_and_orders_are_listed(client):
    product_id, html = await signed_in_with_a_product(client)
    csrf, keys = token_in(html), KEYS.findall(html)
    stock = {"_csrf": csrf, "form_key": keys[-1], "key": product_id, "stock_quantity": "7"}
    assert (
        await client.post("/admin/s/mall-products/stock", data=stock, allow_redirects=False)
    ).status == 303
    detail = await (await client.get(f"/v1/mall/products/{product_id}")).json()
    assert detail["data"]["stock_quantity"] == 7

    buyer = await login(client, "buyer")
    buyer_id, auth = int(buyer["user_info"]["user_id"]), bearer(buyer["token"])
    _, html = await get_page(client, f"/admin/users/{buyer_id}")
    points = {
        "_csrf": token_in(html),
        "form_key": KEYS.search(html).group(1),
        "delta": "100",
        "reason": "shopping",
    }
    await client.post(f"/admin/users/{buyer_id}/points", data=points)
    order = await client.post("/v1/mall/orders", json={"product_id": product_id, "quantity": 2}, headers=auth)
    assert order.status == 201, await order.text()
    status, html = await get_page(client, f"/admin/s/mall-orders?user_id={buyer_id}")
    assert status == 200
    assert "Console fish" in html
    assert "1 in all" in html
    assert (await get_page(client, "/admin/s/mall-orders?user_id=abc"))[0] == 400

    _, html = await get_page(client, "/admin/s/mall-products")
    shelf = {"_csrf": token_in(html), "form_key": KEYS.findall(html)[1], "key": product_id}
    assert (
        await client.post("/admin/s/mall-products/shelf", data=shelf, allow_redirects=False)
    ).status == 303
    assert await public_names(client) == []
    assert await audit_actions(client) == [
        "mall-products.create",
        "mall-products.stock",
        "points.adjust",
        "mall-products.shelf",
    ]


async def test_a_dead_letter_is_retried_from_the_console(client):
    await add_operator(client)
    await sign_in(client)
    user_id = int((await login(client, "reader"))["user_info"]["user_id"])
    now = datetime.now(UTC)
    with client.server.app[database_key].activate():
        row = await NotificationLog.create(
            message_id="console-test-1",
            user_id=user_id,
            kind="checkin_reward",
            template_id="t-checkin",
            data={},
            status="dead",
            reason="WeChat busy",
            created_at=now,
            updated_at=now,
        )
    status, html = await get_page(client, "/admin/s/notifications?status=dead")
    assert status == 200
    assert "WeChat busy" in html
    form = {"_csrf": token_in(html), "form_key": KEYS.findall(html)[-1], "key": str(row.id)}
    response = await client.post("/admin/s/notifications/retry", data=form, allow_redirects=False)
    assert response.status == 303
    assert "queued+again" in response.headers["Location"]

    async def left_the_dead() -> bool:
        with client.server.app[database_key].activate():
            return (await NotificationLog.get(id=row.id)).status != "dead"

    await eventually(left_the_dead)
    again = {**form, "form_key": KEYS.findall((await get_page(client, "/admin/s/notifications"))[1])[-1]}
    response = await client.post("/admin/s/notifications/retry", data=again, allow_redirects=False)
    assert response.status in (303, 409)  # 409 once it was delivered: only dead or stuck rows are retried
    assert "notifications.retry" in await audit_actions(client)


async def test_an_unknown_section_or_action_is_a_404_page(client):
    await add_operator(client)
    await sign_in(client)
    assert (await get_page(client, "/admin/s/nothing"))[0] == 404
    csrf, _ = await operator_on(client, "/admin/s/mall-products")
    response = await client.post(
        "/admin/s/mall-products/explode", data={"_csrf": csrf}, allow_redirects=False
    )
    assert response.status == 404


async def test_a_product_is_changed_field_by_field_and_an_empty_form_is_refused(client):
    product_id, html = await signed_in_with_a_product(client)
    edit_key = KEYS.findall(html)[2]  # create, then the row's shelf, change and stock forms
    empty = {"_csrf": token_in(html), "form_key": edit_key, "key": product_id}
    response = await client.post("/admin/s/mall-products/edit", data=empty, allow_redirects=False)
    assert response.status == 400
    assert "at least one field" in await response.text()
    changed = {**empty, "name": "Renamed fish", "points_cost": "40"}
    assert (
        await client.post("/admin/s/mall-products/edit", data=changed, allow_redirects=False)
    ).status == 303
    detail = (await (await client.get(f"/v1/mall/products/{product_id}")).json())["data"]
    assert (detail["name"], detail["points_cost"], detail["category"]) == ("Renamed fish", 40, "food")
    with client.server.app[database_key].activate():
        entry = await AuditEntry.get(action="mall-products.edit")
    assert (entry.before, entry.after) == (
        {"name": "Console fish", "points_cost": 15},
        {"name": "Renamed fish", "points_cost": 40},
    )


async def test_the_dashboard_shows_the_plugins_figures(client):
    await add_operator(client)
    await sign_in(client)
    _, html = await get_page(client, "/admin")
    assert "Check-ins today<b>0</b>" in html
    assert "Orders today<b>0</b>" in html
    user = bearer((await login(client, "early"))["token"])
    assert (await client.post("/v1/checkin", headers=user)).status == 200
    _, html = await get_page(client, "/admin")
    assert "Check-ins today<b>1</b>" in html
