"""Who gets into the console: anonymous requests to any page are sent to the sign-in; a wrong
password is refused, and enough of them in a row lock the account; a form without the session's
CSRF token does nothing; signing out ends the session; the cookie is HttpOnly and SameSite."""

from __future__ import annotations

import pytest
from console_support import PASSWORD, add_operator, get_page, post_form, sign_in, token_in

from mengchong.keys import database_key
from mengchong_plugins.console.models import AuditEntry
from support import login

PAGES = ["/admin", "/admin/users", "/admin/users/1", "/admin/audit", "/admin/plugins"]


@pytest.mark.parametrize("path", PAGES)
async def test_an_anonymous_request_is_sent_to_sign_in(client, path):
    status, _ = await get_page(client, path)
    response = await client.get(path, allow_redirects=False)
    assert status == 303
    assert response.headers["Location"].startswith("/admin/login?next=")


async def test_a_post_without_a_session_changes_nothing_and_is_sent_to_sign_in(client):
    user_id = (await login(client, "alice"))["user_info"]["user_id"]
    response = await client.post(f"/admin/users/{user_id}/ban", allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/v1/users/profile")).status == 401  # (no token: nothing to compare)


async def test_signing_in_sets_a_strict_http_only_cookie_and_returns_to_the_page(client):
    await add_operator(client)
    response = await sign_in(client, next_="/admin/audit")
    assert response.status == 303
    assert response.headers["Location"] == "/admin/audit"
    cookie = response.cookies["mengchong_console"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin"
    status, html = await get_page(client, "/admin/audit")
    assert status == 200
    assert "Audit log" in html


async def test_sign_in_goes_back_only_to_console_pages(client):
    await add_operator(client)
    response = await sign_in(client, next_="https://evil.example/")
    assert response.headers["Location"] == "/admin"


async def test_a_wrong_password_is_refused_and_five_lock_the_account(client, console_overrides):
    await add_operator(client)
    for _ in range(4):
        assert (await sign_in(client, password="wrong password!!")).status == 401
    assert (await sign_in(client)).status == 303  # four failures: not locked, and the count resets
    client.session.cookie_jar.clear()
    for _ in range(5):
        assert (await sign_in(client, password="wrong password!!")).status == 401
    refused = await sign_in(client)  # the right password, but locked
    assert refused.status == 401
    assert "locked" in await refused.text()


async def test_an_unknown_operator_gets_the_same_answer_as_a_wrong_password(client):
    await add_operator(client)
    unknown = await sign_in(client, name="nobody", password=PASSWORD)
    wrong = await sign_in(client, password="wrong password!!")
    assert unknown.status == wrong.status == 401
    assert "Wrong username or password" in await unknown.text()


async def test_the_sign_in_form_needs_its_own_token(client):
    await add_operator(client)
    form = {"username": "ops", "password": PASSWORD, "next": "/admin"}
    response = await client.post("/admin/login", data=form | {"_csrf": "forged"}, allow_redirects=False)
    assert response.status == 403


async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(client):
    await add_operator(client)
    await sign_in(client)
    user_id = (await login(client, "alice"))["user_info"]["user_id"]
    for token in ({}, {"_csrf": "not-the-token"}):
        response = await client.post(f"/admin/users/{user_id}/ban", data=token, allow_redirects=False)
        assert response.status == 403
    _, html = await get_page(client, f"/admin/users/{user_id}")
    assert "banned" not in html.split("<h1>", 1)[1].split("</h1>", 1)[0]
    with client.server.app[database_key].activate():
        assert await AuditEntry.all().count() == 0


async def test_signing_out_ends_the_session(client):
    await add_operator(client)
    await sign_in(client)
    status, html = await get_page(client, "/admin")
    assert status == 200
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/admin"))["mengchong_console"].value
    response = await client.post("/admin/logout", data={"_csrf": token_in(html)}, allow_redirects=False)
    assert response.status == 303
    client.session.cookie_jar.update_cookies({"mengchong_console": cookie})  # the old cookie, replayed
    assert (await get_page(client, "/admin"))[0] == 303


async def test_pages_are_not_cached_or_framed(client):
    await add_operator(client)
    await sign_in(client)
    response = await client.get("/admin")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_post_form_helper_posts_with_the_pages_token(client):
    await add_operator(client)
    await sign_in(client)
    response = await post_form(client, "/admin", "/admin/logout")
    assert response.status == 303
