"""Helpers of the photo tests: fetching a photo, and signed URLs built the way the server does."""

from __future__ import annotations

import aiohttp

from mengchong.keys import settings_key
from mengchong_plugins.pets import photos


def path_of(url: str) -> str:
    return url[url.index("/v1/") :]


async def fetch(client, path: str, auth: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    response = await client.get(path, headers=auth or {})
    await response.read()
    return response


def signed_path(client, photo_id: str, user_id: int, now: float | None = None, version: int = 0) -> str:
    settings = client.server.app[settings_key]
    secret = settings.auth.jwt_secret
    return path_of(photos.signed_url(settings.app.public_url, secret, photo_id, user_id, version, now=now))
