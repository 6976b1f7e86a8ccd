"""Helpers of the console tests: an operator made as the CLI makes one, and a browser-like
session (cookies kept, forms posted with the CSRF token read from the page)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from mengchong.keys import database_key
from mengchong_plugins.console.models import Operator
from mengchong_plugins.console.passwords import hash_password

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


async def add_operator(client: TestClient, name: str = "ops", password: str = PASSWORD) -> None:
    database = client.server.app[database_key]
    with database.activate():
        await Operator.create(
            username=name, password_hash=await hash_password(password), created_at=datetime.now(UTC)
        )


async def get_page(client: TestClient, path: str) -> tuple[int, str]:
    response = await client.get(path, allow_redirects=False)
    return response.status, await response.text()


def token_in(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


async def sign_in(
    client: TestClient, name: str = "ops", password: str = PASSWORD, next_: str = "/admin"
) -> Any:
    """Sign in through the form; the answer to the form's POST (303 when it worked)."""
    _, html = await get_page(client, f"/admin/login?next={next_}")
    form = {"_csrf": token_in(html), "username": name, "password": password, "next": next_}
    return await client.post("/admin/login", data=form, allow_redirects=False)


async def post_form(client: TestClient, page: str, action: str, **fields: str) -> Any:
    """POST ``fields`` to ``action`` with the CSRF token of ``page`` (as the browser would)."""
    _, html = await get_page(client, page)
    return await client.post(action, data={"_csrf": token_in(html), **fields}, allow_redirects=False)
