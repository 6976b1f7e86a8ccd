"""Uploaded photos: typed by magic bytes, checked against a pixel limit before decoding
(decompression bombs), decoded in a worker thread under a bounded number of decode slots, shrunk
to ``photo_max_side`` and re-encoded so EXIF and GPS never survive, and stored under an
unguessable name (:func:`save_photo`). Photos are fetched through URLs signed for their owner,
because the mini program's ``<image>`` can't send an Authorization header; they are signed with
a key of their own, derived from the JWT secret (:func:`url_signing_key`).

Memory: a decode holds the whole image (4 bytes a pixel, whatever the file's size: a one-colour
PNG of 12 megapixels is 50 kB on the wire and 48 MiB decoded). So the pixel limit is checked
from the header before any decoding (for WebP before Pillow even opens it, because libwebp
allocates its canvas then), a JPEG is decoded at the smallest of 1/2, 1/4 or 1/8 scale that
still gives ``photo_max_side``, a larger image is box-reduced strip by strip (at most a strip is
copied besides the result), and at most ``photo_decode_slots`` decodes run at once
(:mod:`mengchong_plugins.pets.decoding`, which also has glibc return the buffers when freed).
The pixel work is in :mod:`mengchong_plugins.pets.pixels`, imported with Pillow on the first
photo rather than at start.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mengchong import plugin_settings
from mengchong.http.conventions import owned
from mengchong.keys import clock_key, files_key
from mengchong_plugins.pets import store
from mengchong_plugins.pets.decoding import decode_slots
from mengchong_plugins.pets.settings import PetsSettings

if TYPE_CHECKING:
    from mengchong_plugins.pets.pixels import CleanPhoto

URL_LIFETIME_SECONDS = 3600
URL_EXPIRY_STEP_SECONDS = 300
"""A link's expiry is rounded up to a multiple of this: one link is handed out for a photo for
five minutes (it lives 60 to 65 minutes), so the client's image cache keeps the photo across
reads instead of fetching it again under a new URL every second."""
SIGNED_URLS_KEPT = 1024
URL_KEY_LABEL = b"mengchong photo urls v1"
url_key: web.AppKey[bytes] = web.AppKey("pets.photo_url_key")


async def clean_photo(app: web.Application, data: bytes, settings: PetsSettings) -> CleanPhoto:
    """:func:`~mengchong_plugins.pets.pixels.clean_photo_blocking` in a worker thread, once a
    decode slot is free (else 503)."""
    from mengchong_plugins.pets import pixels  # here, not at the top: Pillow loads on the first photo

    return await decode_slots(app, settings).run(
        pixels.clean_photo_blocking, data, settings.photo_max_pixels, settings.photo_max_side
    )


async def save_photo(app: web.Application, user_id: int, data: bytes) -> str:
    """Clean an uploaded photo, store its file and its record; returns the photo id."""
    photo = await clean_photo(app, data, plugin_settings(app, PetsSettings))
    file_key = await app[files_key].put(photo.data, suffix=photo.suffix)
    photo_id = uuid.uuid4().hex
    record = {
        "user_id": user_id,
        "file_key": file_key,
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "created_at": store.iso(app[clock_key].now()),
    }
    await store.photos(app).insert(record, doc_id=photo_id)
    return photo_id


async def owned_photo(app: web.Application, photo_id: str, user_id: int) -> dict[str, Any]:
    """The photo's record if it is the user's: 404 none, 403 another's."""
    return owned(await store.photos(app).get(photo_id), user_id, "Photo")


async def photo_content(app: web.Application, photo_id: str, user_id: int) -> tuple[bytes, str]:
    """The user's photo: its bytes and content type."""
    photo = await owned_photo(app, photo_id, user_id)
    return await app[files_key].get(photo["file_key"]), photo["content_type"]


def url_signing_key(jwt_secret: str) -> bytes:
    """The key photo URLs are signed with: HMAC-SHA256 of a fixed label under the JWT secret.

    A key of their own, so that the JWT secret never signs anything but tokens and a photo
    link's signature says nothing about it. Derived, not configured, so that rotating the JWT
    secret also ends every photo link handed out under the old one. Computed once at startup
    (:data:`url_key`)."""
    return hmac.new(jwt_secret.encode(), URL_KEY_LABEL, hashlib.sha256).digest()


def url_signature(key: bytes, photo_id: str, user_id: int, version: int, expires: int) -> str:
    message = f"{photo_id}:{user_id}:{version}:{expires}".encode()
    return hmac.digest(key, message, "sha256").hex()[:32]  # one-shot: no HMAC object per URL


def link_expiry(now: datetime) -> int:
    """When a link handed out at ``now`` stops working: an hour on, rounded up to the step."""
    step = URL_EXPIRY_STEP_SECONDS
    return -(-(int(now.timestamp()) + URL_LIFETIME_SECONDS) // step) * step


def signed_url(base: str, key: bytes, photo_id: str, user_id: int, version: int, now: datetime) -> str:
    """A URL under ``base`` for the photo that works for an hour from ``now`` without a header,
    for its owner only and only while the owner's tokens of ``version`` are valid: logout or a
    ban ends it at once."""
    return _signed_url(base.rstrip("/"), key, photo_id, user_id, version, link_expiry(now))


@functools.lru_cache(maxsize=SIGNED_URLS_KEPT)
def _signed_url(base: str, key: bytes, photo_id: str, user_id: int, version: int, expires: int) -> str:
    """Kept: the same link is asked for on every read of a pet until its expiry steps on, and
    signing it was a sixth of a pet read's CPU."""
    signature = url_signature(key, photo_id, user_id, version, expires)
    query = f"uid={user_id}&ver={version}&exp={expires}&sig={signature}"
    return f"{base}/v1/pets/photos/{photo_id}?{query}"


def verify_signature(
    key: bytes, photo_id: str, query: Mapping[str, str], now: datetime
) -> tuple[int, int] | None:
    """The user and token version the URL was signed for, or None for a missing, forged or
    expired signature. (Whether that version is still the user's is the caller's to check.)"""
    try:
        user_id, version, expires = int(query["uid"]), int(query["ver"]), int(query["exp"])
    except (KeyError, ValueError):
        return None
    signature = query.get("sig", "")
    if expires < now.timestamp() or not signature.isascii():
        return None
    if not hmac.compare_digest(url_signature(key, photo_id, user_id, version, expires), signature):
        return None
    return user_id, version
