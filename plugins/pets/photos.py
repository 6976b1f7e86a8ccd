"""Uploaded photos: read with a size limit, typed by magic bytes, checked against a pixel
limit before decoding (decompression bombs), re-encoded so EXIF and GPS never survive, and
stored under an unguessable name. Photos are fetched through URLs signed for their owner,
because the mini program's ``<image>`` can't send an Authorization header."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import time
from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from PIL import Image, ImageOps, UnidentifiedImageError

from mengchong.http.errors import ApiError, ErrorCode, field_error

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
URL_LIFETIME_SECONDS = 3600
CHUNK = 64 * 1024


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    format: str
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][0]

    @property
    def suffix(self) -> str:
        return FORMATS[self.format][1]


def sniff(head: bytes) -> str | None:
    """The format the first bytes announce: JPEG, PNG or WEBP; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


async def read_upload(request: web.Request, max_bytes: int) -> bytes:
    """The multipart ``file`` field, refused with 413 as soon as it passes ``max_bytes``."""
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(
            ErrorCode.UNSUPPORTED_CONTENT_TYPE,
            "Expected multipart/form-data with a file field",
            [],
        )
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        buffer = bytearray()
        while chunk := await part.read_chunk(CHUNK):
            buffer.extend(chunk)
            if len(buffer) > max_bytes:
                raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"The photo is over {max_bytes} bytes")
        if not buffer:
            raise field_error("file", "is empty")
        return bytes(buffer)
    raise field_error("file", "is required (multipart field 'file')")


def clean(data: bytes, max_pixels: int) -> CleanPhoto:
    """Check and re-encode a photo (blocking: run it in a thread)."""
    kind = sniff(data[:16])
    if kind is None:
        raise field_error("file", "must be a JPEG, PNG or WebP image")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise field_error("file", f"has {width}x{height} pixels, more than {max_pixels}")
            image.load()
            upright = ImageOps.exif_transpose(image)  # keep the orientation, drop the EXIF
            mode = "RGBA" if upright.mode in ("RGBA", "LA", "P") and kind != "JPEG" else "RGB"
            converted = upright.convert(mode)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        raise field_error("file", f"is not a readable {kind} image") from None
    # Pillow writes back some of what it read (a JPEG comment, for one): keep only the colour
    # profile, which says how to show the pixels and nothing about the person.
    icc = converted.info.get("icc_profile")
    converted.info = {"icc_profile": icc} if icc else {}
    out = io.BytesIO()
    options = {"quality": 90} if kind in ("JPEG", "WEBP") else {"optimize": True}
    converted.save(out, format=kind, **options)  # no exif= argument: metadata is not written
    return CleanPhoto(out.getvalue(), kind, converted.width, converted.height)


async def clean_photo(data: bytes, max_pixels: int) -> CleanPhoto:
    return await asyncio.to_thread(clean, data, max_pixels)


def sign(secret: str, photo_id: str, user_id: int, expires: int) -> str:
    message = f"{photo_id}:{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_url(base: str, secret: str, photo_id: str, user_id: int, now: float | None = None) -> str:
    """A URL for the photo that works for an hour without a header; only its owner gets one."""
    expires = int((now if now is not None else time.time()) + URL_LIFETIME_SECONDS)
    signature = sign(secret, photo_id, user_id, expires)
    return f"{base.rstrip('/')}/v1/pets/photos/{photo_id}?uid={user_id}&exp={expires}&sig={signature}"


def verify_signature(
    secret: str, photo_id: str, query: dict[str, str], now: float | None = None
) -> int | None:
    """The user the URL was signed for, or None for a missing, forged or expired signature."""
    try:
        user_id, expires = int(query["uid"]), int(query["exp"])
    except (KeyError, ValueError):
        return None
    if expires < (now if now is not None else time.time()):
        return None
    if not hmac.compare_digest(sign(secret, photo_id, user_id, expires), query.get("sig", "")):
        return None
    return user_id
