"""Default plugin: the accounts routes, and the WeChat client opened for the app's lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from mengchong.accounts.routes import routes
from mengchong.hookspecs import hookimpl
from mengchong.keys import settings_key, wechat_key

log = logging.getLogger("mengchong.accounts")


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes


@hookimpl
def mengchong_cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    async def wechat_client(app: web.Application) -> AsyncIterator[None]:
        client = app[wechat_key]
        if client.mock:
            log.warning(
                'WeChat is in MOCK mode: any code logs in as openid "mock-<code>". '
                "Never expose this server to real users (production refuses this setting).",
                extra={"env": app[settings_key].app.env},
            )
        await client.open()
        yield
        await client.close()

    return wechat_client(app)
