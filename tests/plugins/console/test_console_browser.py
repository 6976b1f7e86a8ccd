"""The console in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ./scripts/test installs) driven by Selenium against a ``mengchong serve``
process. An operator signs in, finds a user, bans them (their token then fails on the API), lifts
the ban, adjusts their points with a form whose submission is then replayed (applied once);
a form without its CSRF token is refused, an anonymous visit is sent to sign in. A screenshot of
each page is saved (``MENGCHONG_SCREENSHOTS``, default the test's temporary folder): the README
shows them. Outside CI the test skips, saying so, when no browser can be had; under CI it fails.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from served import served
from support import IN_CI, clean_env

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PASSWORD = "correct horse battery staple"
ENABLED = '["pets", "checkin", "mall", "leaderboard", "notifications", "console"]'


def browser_or_skip() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    why = f"no browser at {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver"
    if IN_CI:
        pytest.fail(f"CI: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture
def driver() -> Iterator[object]:
    browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MENGCHONG_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_operator(tmp_path: Path, env: dict[str, str]) -> None:
    for command in (["migrate"], ["console", "add-operator", "ops"]):
        done = subprocess.run(
            [sys.executable, "-m", "mengchong", *command],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            env=clean_env(**env),
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr


def dead_letter(tmp_path: Path, user_id: int) -> None:
    """A notification that ran out of attempts, as the delivery leaves one."""
    with sqlite3.connect(tmp_path / "db.sqlite3") as database:
        database.execute(
            "INSERT INTO notification_logs (message_id, user_id, kind, template_id, page, data, status,"
            " reason, attempts, grant_spent, created_at, updated_at) VALUES"
            " ('browser-dead-1', ?, 'checkin_reward', 't-checkin', '', '{}', 'dead', 'WeChat busy', 5, 0,"
            " datetime('now'), datetime('now'))",
            (user_id,),
        )


async def test_an_operator_works_the_console_in_a_browser(driver, tmp_path, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    env = {
        "MENGCHONG__DATABASE__URL": f"sqlite://{tmp_path}/db.sqlite3",
        "MENGCHONG__PLUGINS__ENABLED": ENABLED,
        "MENGCHONG__RATELIMIT__ENABLED": "false",
    }
    await asyncio.to_thread(add_operator, tmp_path, env)
    async with served(tmp_path, **env) as server, aiohttp.ClientSession() as api:
        base = server.base
        async with api.post(f"{base}/v1/auth/wechat_login", json={"code": "alice"}) as response:
            alice = (await response.json())["data"]
        alice_auth = {"Authorization": f"Bearer {alice['token']}"}
        alice_id = alice["user_info"]["user_id"]

        def shot(name: str) -> None:
            driver.save_screenshot(str(screenshots / f"{name}.png"))

        def visit(path: str) -> None:
            driver.get(base + path)

        def arrived(condition: Any) -> Any:
            """Wait for the page a click went to (a click may return before it has loaded)."""
            return WebDriverWait(driver, 20).until(condition)

        def notice() -> str:
            return arrived(expected_conditions.presence_of_element_located((By.CLASS_NAME, "notice"))).text

        # Anonymous: sent to sign in, then back to the page asked for.
        await asyncio.to_thread(visit, "/admin/users")
        assert "/admin/login?next=" in driver.current_url
        shot("sign-in")
        driver.find_element(By.NAME, "username").send_keys("ops")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        await asyncio.to_thread(driver.find_element(By.CSS_SELECTOR, "form button").click)
        await asyncio.to_thread(arrived, expected_conditions.url_to_be(f"{base}/admin/users"))

        # Find Alice and open her page.
        search = driver.find_element(By.NAME, "q")
        search.send_keys("mock-alice")
        await asyncio.to_thread(search.submit)
        shot("users")
        await asyncio.to_thread(driver.find_element(By.LINK_TEXT, str(alice_id)).click)
        await asyncio.to_thread(arrived, expected_conditions.url_to_be(f"{base}/admin/users/{alice_id}"))

        # Points: the form sent, then the same submission replayed with the browser's session.
        form = driver.find_element(By.ID, "points")
        fields = {
            name: form.find_element(By.NAME, name).get_attribute("value") for name in ("_csrf", "form_key")
        }
        form.find_element(By.NAME, "delta").send_keys("120")
        form.find_element(By.NAME, "reason").send_keys("welcome gift")
        await asyncio.to_thread(form.find_element(By.TAG_NAME, "button").click)
        await asyncio.to_thread(
            arrived, expected_conditions.text_to_be_present_in_element((By.ID, "balance"), "120")
        )
        cookies = {cookie["name"]: cookie["value"] for cookie in driver.get_cookies()}
        replay = {**fields, "delta": "120", "reason": "welcome gift"}
        async with aiohttp.ClientSession(cookies=cookies) as browser_session:
            url = f"{base}/admin/users/{alice_id}/points"
            async with browser_session.post(url, data=replay, allow_redirects=False) as response:
                assert response.status == 303
            async with browser_session.post(url, data={**replay, "_csrf": "forged"}) as response:
                assert response.status == 403  # without the session's token: refused
        async with api.get(f"{base}/v1/users/profile", headers=alice_auth) as response:
            assert (await response.json())["data"]["points_balance"] == 120
        shot("user")

        # Ban: her token fails on the API at once; lifting the ban lets her log in again.
        await asyncio.to_thread(driver.find_element(By.ID, "ban").click)
        await asyncio.to_thread(arrived, expected_conditions.presence_of_element_located((By.ID, "unban")))
        async with api.get(f"{base}/v1/users/profile", headers=alice_auth) as response:
            assert response.status == 401
        await asyncio.to_thread(driver.find_element(By.ID, "unban").click)
        await asyncio.to_thread(arrived, expected_conditions.presence_of_element_located((By.ID, "ban")))
        async with api.post(f"{base}/v1/auth/wechat_login", json={"code": "alice"}) as response:
            assert response.status == 200

        # A product made in the console is on the mall's public list.
        await asyncio.to_thread(visit, "/admin/s/mall-products")
        form = driver.find_element(By.ID, "action-create")
        driver.execute_script("arguments[0].open = true", form.find_element(By.XPATH, ".."))
        for name, value in (("name", "Browser fish"), ("type", "virtual_pet_food"), ("category", "food")):
            form.find_element(By.NAME, name).send_keys(value)
        form.find_element(By.NAME, "item_id").send_keys("food.fish")
        form.find_element(By.NAME, "points_cost").send_keys("25")
        await asyncio.to_thread(form.find_element(By.TAG_NAME, "button").click)
        assert "created" in await asyncio.to_thread(notice)
        shot("products")
        async with api.get(f"{base}/v1/mall/products") as response:
            assert [item["name"] for item in (await response.json())["data"]["items"]] == ["Browser fish"]

        # A dead letter retried: it leaves the dead letters.
        await asyncio.to_thread(dead_letter, tmp_path, int(alice_id))
        await asyncio.to_thread(visit, "/admin/s/notifications?status=dead")
        await asyncio.to_thread(driver.find_element(By.CSS_SELECTOR, "button[data-action=retry]").click)
        assert "queued again" in await asyncio.to_thread(notice)
        shot("notifications")

        for name, path in (("dashboard", "/admin"), ("audit", "/admin/audit"), ("plugins", "/admin/plugins")):
            await asyncio.to_thread(visit, path)
            shot(name)
        assert driver.title.startswith("Plugins and settings")
        await asyncio.to_thread(visit, "/admin/audit")
        audit = driver.find_element(By.TAG_NAME, "table").text
        assert "points.adjust" in audit
        assert "user.ban" in audit
        assert "user.unban" in audit
        assert audit.count("points.adjust") == 1  # the replay changed nothing
        assert "mall-products.create" in audit
        assert "notifications.retry" in audit
    assert sorted(path.name for path in screenshots.iterdir()) == [
        "audit.png",
        "dashboard.png",
        "notifications.png",
        "plugins.png",
        "products.png",
        "sign-in.png",
        "user.png",
        "users.png",
    ]
