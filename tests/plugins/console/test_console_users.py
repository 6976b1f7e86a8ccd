"""What an operator does to users through the console, on both profiles: find them, ban them
(their token then fails on the API) and lift the ban, adjust their points with a form that
applies once however often it is sent, see their ledger and the plugins' panels (their pets);
each change in the audit log."""

from __future__ import annotations

from console_support import FORM_KEY, add_operator, get_page, sign_in, token_in

from mengchong.keys import database_key
from mengchong_plugins.console.models import AuditEntry
from pets_support import adopted
from support import bearer, login


async def signed_in_with_alice(client) -> tuple[int, dict[str, str]]:
    await add_operator(client)
    await sign_in(client)
    data = await login(client, "alice")
    return int(data["user_info"]["user_id"]), bearer(data["token"])


async def points_form(client, page: str, delta: str, reason: str) -> dict[str, str]:
    """The fields of ``page``'s points form, filled in (its CSRF token and form key included)."""
    _, html = await get_page(client, page)
    return {
        "_csrf": token_in(html),
        "form_key": FORM_KEY.search(html).group(1),
        "delta": delta,
        "reason": reason,
    }


async def audit_rows(client) -> list[tuple[str, str, dict | None, dict | None]]:
    with client.server.app[database_key].activate():
        rows = await AuditEntry.all().order_by("id")
    return [(row.action, row.target, row.before, row.after) for row in rows]


async def test_users_are_found_by_id_openid_or_nickname(client):
    alice_id, _ = await signed_in_with_alice(client)
    await login(client, "bob")
    for query in (str(alice_id), "mock-alice", "alic"):
        status, html = await get_page(client, f"/admin/users?q={query}")
        assert status == 200
        assert "mock-alice" in html, query
        assert "mock-bob" not in html, query
    assert "No user matches" in (await get_page(client, "/admin/users?q=nobody-at-all"))[1]


async def test_a_ban_stops_the_users_token_and_lifting_it_lets_them_back(client):
    alice_id, alice = await signed_in_with_alice(client)
    page = f"/admin/users/{alice_id}"
    assert (await client.get("/v1/users/profile", headers=alice)).status == 200
    _, html = await get_page(client, page)
    response = await client.post(f"{page}/ban", data={"_csrf": token_in(html)}, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, page)
    assert (await client.get("/v1/users/profile", headers=alice)).status == 401
    assert (await client.post("/v1/auth/wechat_login", json={"code": "alice"})).status == 403
    _, html = await get_page(client, page)
    assert 'class="banned"' in html
    await client.post(f"{page}/unban", data={"_csrf": token_in(html)}, allow_redirects=False)
    assert (await client.post("/v1/auth/wechat_login", json={"code": "alice"})).status == 200
    assert [row[:2] for row in await audit_rows(client)] == [
        ("user.ban", f"user:{alice_id}"),
        ("user.unban", f"user:{alice_id}"),
    ]


async def test_a_points_form_sent_twice_applies_once(client):
    alice_id, alice = await signed_in_with_alice(client)
    page = f"/admin/users/{alice_id}"
    form = await points_form(client, page, "150", "goodwill")
    for _ in range(2):  # a double click, or the browser sending the form again
        response = await client.post(f"{page}/points", data=form, allow_redirects=False)
        assert response.status == 303
    profile = await (await client.get("/v1/users/profile", headers=alice)).json()
    assert profile["data"]["points_balance"] == 150
    _, html = await get_page(client, page)
    assert 'id="balance">150<' in html
    assert "goodwill" in html  # in the ledger
    assert await audit_rows(client) == [
        (
            "points.adjust",
            f"user:{alice_id}",
            {"balance": 0},
            {"balance": 150, "delta": 150, "reason": "goodwill"},
        )
    ]
    fresh = {**form, "form_key": FORM_KEY.search(html).group(1), "delta": "-50"}
    assert (await client.post(f"{page}/points", data=fresh, allow_redirects=False)).status == 303
    profile = await (await client.get("/v1/users/profile", headers=alice)).json()
    assert profile["data"]["points_balance"] == 100


async def test_bad_points_forms_say_why_and_change_nothing(client):
    alice_id, alice = await signed_in_with_alice(client)
    page = f"/admin/users/{alice_id}"
    cases = [
        ({"delta": "ten", "reason": "x"}, 400, "whole number"),
        ({"delta": "0", "reason": "x"}, 400, "between 1"),
        ({"delta": "5", "reason": ""}, 400, "reason"),
        ({"delta": "5", "reason": "r" * 33}, 400, "reason"),
        ({"delta": "-5", "reason": "take"}, 422, "does not have"),
    ]
    for fields, status, says in cases:
        _, html = await get_page(client, page)
        form = {"_csrf": token_in(html), "form_key": FORM_KEY.search(html).group(1), **fields}
        response = await client.post(f"{page}/points", data=form, allow_redirects=False)
        assert response.status == status, fields
        assert says in await response.text(), fields
    profile = await (await client.get("/v1/users/profile", headers=alice)).json()
    assert profile["data"]["points_balance"] == 0
    assert await audit_rows(client) == []


async def test_an_unknown_user_is_a_404_page(client):
    await add_operator(client)
    await sign_in(client)
    for path in ("/admin/users/999999", "/admin/users/abc", "/admin/users/" + "9" * 30):
        status, html = await get_page(client, path)
        assert status == 404, path
        assert "No such user" in html


async def test_the_dashboard_counts_users_and_todays_points(client):
    alice_id, _ = await signed_in_with_alice(client)
    page = f"/admin/users/{alice_id}"
    form = await points_form(client, page, "70", "gift")
    await client.post(f"{page}/points", data=form, allow_redirects=False)
    status, html = await get_page(client, "/admin")
    assert status == 200
    assert "Users<b>1</b>" in html
    assert "Points granted today<b>70</b>" in html


async def test_the_plugins_page_shows_settings_with_secrets_hidden(client):
    await add_operator(client)
    await sign_in(client)
    status, html = await get_page(client, "/admin/plugins")
    assert status == 200
    assert "console" in html
    assert "GET /admin/users" in html
    assert "dev-secret-change-me" not in html
    assert "&#34;jwt_secret&#34;: &#34;***&#34;" in html or '"jwt_secret": "***"' in html


async def test_a_users_page_shows_the_plugins_panels_such_as_their_pets(client):
    alice_id, alice = await signed_in_with_alice(client)
    pet = await adopted(client, alice, name="Mochi")
    status, html = await get_page(client, f"/admin/users/{alice_id}")
    assert status == 200
    assert "<h2>Pets</h2>" in html
    assert "Mochi" in html
    assert pet["pet_id"] in html
