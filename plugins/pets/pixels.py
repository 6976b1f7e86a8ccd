"""The pixel work on uploaded photos: typed by magic bytes, checked against the pixel limit
before decoding, decoded (a large JPEG at reduced scale), shrunk strip by strip, turned upright and
re-encoded without metadata (:func:`clean_photo_blocking`, run in a worker thread by
:func:`mengchong_plugins.pets.photos.clean_photo`).

The one pets module that imports Pillow (with :mod:`mengchong_plugins.pets.analysis`, the
built-in generator's). It is imported on first use, not at start, so that starting a server
does not pay ~20 ms and ~3 MB for Pillow before any photo comes in.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from mengchong.http.errors import field_error

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
# Image-sized buffers Pillow 13 holds at once while decoding each format: a WebP goes through
# libwebp's animation decoder (its canvas and the previous one), the frame's bytes and the
# image. The pixel limit is divided by this, so that every format's decode costs the same.
DECODE_COPIES = {"JPEG": 1, "PNG": 1, "WEBP": 4}
STRIP_BYTES = 4 * 1024 * 1024  # what one strip of a reduction copies at most (roughly)
ORIENTATION = 0x0112
# EXIF orientation -> the transposition that shows the image upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class CleanPhoto:
    """A photo re-encoded without metadata, as it is stored."""

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


def webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size a WebP file declares (simple lossy, lossless or extended), None if unreadable."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def check_pixels(kind: str, size: tuple[int, int], max_pixels: int) -> None:
    limit = max_pixels // DECODE_COPIES[kind]
    width, height = size
    if width * height > limit:
        raise field_error("file", f"has {width}x{height} pixels, more than the {limit} allowed for {kind}")


def draft_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size to ask a JPEG's draft for: its own shape with the longest side ``max_side``, so
    that the reduced decode still has at least ``max_side`` on its longest side."""
    longest = max(size)
    return tuple(max(1, math.ceil(side * max_side / longest)) for side in size)  # type: ignore[return-value]


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` with its longest side at most ``max_side``: a whole-factor box reduction, then
    a Lanczos resize of what is left, each strip by strip so that besides the result only a
    strip is ever copied (on RGBA, ``Image.reduce`` and ``Image.resize`` copy the whole image to
    premultiply it)."""
    width, height = image.size
    factor = max(width, height) // max_side
    if factor >= 2:
        reduced = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
        rows = factor * max(1, STRIP_BYTES // (width * 4 * factor))
        for top in range(0, height, rows):
            strip = image.crop((0, top, width, min(top + rows, height)))
            reduced.paste(strip.reduce(factor), (0, top // factor))
        image, width, height = reduced, *reduced.size
    if max(width, height) <= max_side:
        return image
    scale = max_side / max(width, height)
    return resize_in_strips(image, (max(1, round(width * scale)), max(1, round(height * scale))))


def resize_in_strips(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image.resize(size, LANCZOS)`` band by band of the result, each from a strip of the
    source wide enough for the filter (3 source pixels per result pixel each side). Done the
    way Pillow does the whole image, so that the result is the same but for rounding: alpha
    premultiplied, then a horizontal pass, then a vertical one."""
    width, height = image.size
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(image.mode, image.mode)
    scale = height / size[1]
    margin = math.ceil(3 * max(scale, 1)) + 2
    band = max(1, int(max(1, STRIP_BYTES // (width * 4)) / scale))
    resized = Image.new(premultiplied, size)
    for out_top in range(0, size[1], band):
        out_bottom = min(out_top + band, size[1])
        src_top, src_bottom = out_top * scale, out_bottom * scale
        top, bottom = max(0, math.floor(src_top) - margin), min(height, math.ceil(src_bottom) + margin)
        strip = image.crop((0, top, width, bottom)).convert(premultiplied)
        strip = strip.resize((size[0], bottom - top), Image.Resampling.LANCZOS)
        box = (0, src_top - top, size[0], src_bottom - top)
        resized.paste(
            strip.resize((size[0], out_bottom - out_top), Image.Resampling.LANCZOS, box), (0, out_top)
        )
    return resized.convert(image.mode)


def decode_image(
    data: bytes, kind: str, max_pixels: int, max_side: int
) -> tuple[Image.Image, int, bytes | None]:
    """The loaded image (a JPEG at reduced scale when it is large), its EXIF orientation and
    its colour profile; the pixel limit is checked before anything is decoded."""
    if kind == "WEBP":
        declared = webp_size(data)
        if declared is None:
            raise field_error("file", "is not a readable WEBP image")
        check_pixels(kind, declared, max_pixels)
    # Not `with Image.open(...)`: closing an image discards its pixels, and these are returned.
    # The file is in memory, nothing to close.
    image = Image.open(io.BytesIO(data), formats=[kind])
    check_pixels(kind, image.size, max_pixels)
    if kind == "JPEG":
        image.draft("RGB", draft_size(image.size, max_side))  # decoded at 1/2, 1/4 or 1/8 scale
    image.load()
    return image, image.getexif().get(ORIENTATION, 1), image.info.get("icc_profile")


def clean_photo_blocking(data: bytes, max_pixels: int, max_side: int) -> CleanPhoto:
    """Check, shrink and re-encode a photo (blocking: run it in a thread)."""
    kind = sniff(data[:16])
    if kind is None:
        raise field_error("file", "must be a JPEG, PNG or WebP image")
    try:
        image, orientation, icc = decode_image(data, kind, max_pixels, max_side)
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P") and kind != "JPEG" else "RGB"
        if image.mode != mode:
            image = image.convert(mode)
        image = shrink(image, max_side)
        if orientation in UPRIGHT:  # keep the orientation, drop the EXIF
            image = image.transpose(UPRIGHT[orientation])
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, EOFError):
        raise field_error("file", f"is not a readable {kind} image") from None
    # Pillow writes back some of what it read (a JPEG comment, for one): keep only the colour
    # profile, which says how to show the pixels and nothing about the person.
    image.info = {"icc_profile": icc} if icc else {}
    out = io.BytesIO()
    options = {"quality": 90} if kind in ("JPEG", "WEBP") else {"optimize": True}
    image.save(out, format=kind, **options)  # no exif= argument: metadata is not written
    return CleanPhoto(out.getvalue(), kind, image.width, image.height)
