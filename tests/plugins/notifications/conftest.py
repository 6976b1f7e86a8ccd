"""Fixtures of the notification tests: a fake WeChat server (live mode), an app with the
notifications plugin (and check-in, mall and pets, whose events it turns into messages) on either
profile with every kind's template configured, reading a ManualClock, an admin and users logged
in through the fake (openid ``o-<name>``). Helpers the tests share are in notifications_support.py."""

from __future__ import annotations

import pytest

from checkin_support import TODAY, local
from fakes.wechat import APPID, SECRET, FakeWechat
from mengchong.clock import ManualClock
from notifications_support import ADMIN, TEMPLATES, Auth, user
from support import settings_from


@pytest.fixture
async def fake(aiohttp_server) -> FakeWechat:
    fake = FakeWechat(slow_seconds=2)
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url(""))  # type: ignore[attr-defined]
    return fake


@pytest.fixture
def notifications_overrides() -> dict:
    """The test's ``[notifications]`` settings over TEMPLATES; parametrize it to change them."""
    return {}


@pytest.fixture
def extra_plugins() -> list[tuple[str, object]]:
    return []


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(local(TODAY))


@pytest.fixture
def settings(profile, fake, notifications_overrides):
    """The app's settings: live WeChat against the fake, every kind's template configured."""
    return settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall", "notifications"]},
        auth={"admin_openids": [f"o-{ADMIN}"]},
        wechat={
            "mode": "live",
            "appid": APPID,
            "secret": SECRET,
            "api_base": fake.base,
            "timeout_seconds": 0.5,
        },
        notifications={"templates": TEMPLATES, "reminder_poll_seconds": 0.05, **notifications_overrides},
    )


@pytest.fixture
async def client(settings, make_client, extra_plugins, clock):
    return await make_client(settings, extra_plugins, clock=clock)


@pytest.fixture
async def admin(client) -> tuple[int, Auth]:
    return await user(client, ADMIN)


@pytest.fixture
async def alice(client) -> tuple[int, Auth]:
    return await user(client, "alice")


@pytest.fixture
async def bob(client) -> tuple[int, Auth]:
    return await user(client, "bob")


@pytest.fixture
async def make_quiet_client(aiohttp_client):
    """``await make_quiet_client(settings, clock=...)``: like ``make_client``, but the app starts
    no queue consumers and no background tasks, so a test delivers (``delivery.deliver``) and
    reminds (``Reminder.remind_once``) itself, and a published message waits in its queue."""
    from aiohttp.test_utils import TestServer

    from mengchong.app import SERVING_ONLY, create_app
    from mengchong.keys import database_key
    from mengchong.server import LINGER_SECONDS
    from support import track_queues

    async def make(settings, plugins=(), **options):
        app = create_app(settings, plugins, **options)
        for ctx in SERVING_ONLY:
            app.cleanup_ctx.remove(ctx)
        track_queues(app)
        await app[database_key].migrate()
        server = TestServer(app)
        await server.start_server(lingering_time=LINGER_SECONDS)
        return await aiohttp_client(server)

    return make
