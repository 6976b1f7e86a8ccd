"""Helpers of the photo tests: fetching a photo, and signed URLs built the way the server does."""

from __future__ import annotations

from datetime import datetime

import aiohttp

from mengchong.keys import clock_key
from mengchong_plugins.pets import photos


def path_of(url: str) -> str:
    return url[url.index("/v1/") :]


async def fetch(client, path: str, auth: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    response = await client.get(path, headers=auth or {})
    await response.read()
    return response


def signed_path(
    client, photo_id: str, user_id: int, now: datetime | None = None, version: int = 0, key: bytes = b""
) -> str:
    """A photo's path and query signed the server's way (with its key, unless ``key`` is given)."""
    app = client.server.app
    moment = now if now is not None else app[clock_key].now()
    signing_key = key or app[photos.url_key]
    return path_of(photos.signed_url("http://any", signing_key, photo_id, user_id, version, moment))
