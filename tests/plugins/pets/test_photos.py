"""Photo upload and fetch over HTTP on both profiles: the size limit (413, nothing stored), the
type taken from magic bytes and never from the filename, the pixel limit checked from the header
before any decoding (decompression bombs), EXIF and GPS stripped with the orientation applied,
the signed photo URLs (expiry, per photo, per owner) and the unguessable ids and file keys."""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageFile

from mengchong.http.errors import ErrorCode
from mengchong.keys import database_key, documents_key
from mengchong.storage.files import is_key
from mengchong_plugins.pets.pixels import clean_photo_blocking
from pets_support import orange_photo, striped_photo, upload, user_id_of
from photo_support import fetch, path_of, signed_path
from support import bearer, login

MAX_BYTES = 200_000  # room for the 30000x30000 PNG below (about 110 kB) to reach the pixel check
MAX_PIXELS = 1_000_000
GPS = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
CAMERA = "SpyCam-9000"
# Where each format keeps its EXIF block.
EXIF_MARKERS = {"JPEG": b"Exif\x00\x00", "PNG": b"eXIf", "WEBP": b"EXIF"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@pytest.fixture
def pets_overrides() -> dict:
    return {"photo_max_bytes": MAX_BYTES, "photo_max_pixels": MAX_PIXELS}


# --- Building files -------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def handmade_png(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A 1-bit greyscale PNG of ``width`` x ``height``, all black, built row by row so that even
    a huge one never exists in memory here; ``idat`` replaces the compressed pixel data."""
    if idat is None:
        row = bytes(1 + (width + 7) // 8)  # filter byte 0, then all-zero pixels
        compressor = zlib.compressobj(9)
        idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def pillow_photo(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB", **save: Any) -> bytes:
    image = Image.new(mode, size, (30, 120, 200, 128)[: len(mode)])
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def photo_with_exif(fmt: str) -> bytes:
    """300x200 raw pixels, left half red and right half blue, with EXIF saying: camera make,
    GPS position, and orientation 6 (shown rotated 90 degrees clockwise, so 200x300)."""
    image = Image.new("RGB", (300, 200), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 150, 200))
    exif = Image.Exif()
    exif[0x010F] = CAMERA  # Make
    exif[0x0112] = 6  # Orientation
    exif[0x8825] = dict(GPS)  # GPSInfo
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif)
    return out.getvalue()


# --- Talking to the server ------------------------------------------------------------------


async def post_file(
    client, auth: dict[str, str], data: bytes, filename: str = "photo.jpg", field: str = "file"
) -> tuple[int, dict[str, Any]]:
    """POST a multipart upload; the status and envelope, whatever they are."""
    form = aiohttp.FormData()
    form.add_field(field, data, filename=filename, content_type="application/octet-stream")
    response = await client.post("/v1/pets/upload_photo", data=form, headers=auth)
    return response.status, await response.json()


async def photo_record(client, photo_id: str) -> dict[str, Any] | None:
    app = client.server.app
    with app[database_key].activate():
        return await app[documents_key].collection("pet_photos").get(photo_id)


async def photo_count(client, user_id: int) -> int:
    app = client.server.app
    with app[database_key].activate():
        return await app[documents_key].collection("pet_photos").count({"user_id": user_id})


def stored_files(profile: dict) -> list[str]:
    """The names of all files in the test's file store."""
    root = Path(profile["files"]["root"])
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_file_error(status: int, body: dict[str, Any]) -> None:
    assert status == 400, body
    assert body["code"] == ErrorCode.BAD_FIELD, body
    assert body["errors"][0]["field"] == "file", body


@pytest.fixture
def decoded(monkeypatch) -> list[tuple[int, int]]:
    """The sizes of the images Pillow decodes from now on (``ImageFile.load``), in this process:
    the server of both profiles runs here, its ``clean`` in a worker thread."""
    sizes: list[tuple[int, int]] = []
    original: Callable[..., Any] = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        sizes.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return sizes


# --- Size ------------------------------------------------------------------------------------


async def test_an_upload_over_the_byte_limit_gets_413_and_stores_nothing(client, alice, profile):
    valid = orange_photo()
    at_limit = valid + bytes(MAX_BYTES - len(valid))  # trailing bytes after IEND are ignored
    over = at_limit + b"\x00"

    status, body = await post_file(client, alice, over, "photo.png")
    assert status == 413, body
    assert body["code"] == ErrorCode.PAYLOAD_TOO_LARGE == 41301
    assert await photo_count(client, user_id_of(alice)) == 0
    assert stored_files(profile) == []

    far_over = b"\xff\xd8\xff" + bytes(5 * MAX_BYTES)
    status, body = await post_file(client, alice, far_over)
    assert (status, body["code"]) == (413, 41301)
    assert await photo_count(client, user_id_of(alice)) == 0

    status, body = await post_file(client, alice, at_limit, "photo.png")
    assert status == 200, body
    assert await photo_count(client, user_id_of(alice)) == 1
    assert len(stored_files(profile)) == 1


# --- Type -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        pytest.param(pillow_photo((40, 30), "GIF"), "photo.gif", id="gif"),
        pytest.param(pillow_photo((40, 30), "GIF"), "photo.jpg", id="gif-named-jpg"),
        pytest.param(pillow_photo((40, 30), "BMP"), "photo.jpg", id="bmp"),
        pytest.param(b"just some text, honestly a photo\n" * 20, "photo.jpg", id="text-named-jpg"),
        pytest.param(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "photo.jpg", id="pdf"),
        pytest.param(b"", "photo.jpg", id="empty"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"garbage!" * 100, "photo.png", id="png-header-then-garbage"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"garbage!" * 100, "photo.jpg", id="jpeg-header-then-garbage"),
        pytest.param(b"RIFF\x00\x01\x00\x00WEBP" + b"garbage!" * 100, "photo.webp", id="webp-header-garbage"),
        pytest.param(orange_photo("PNG")[:-200], "photo.png", id="truncated-png"),
        pytest.param(striped_photo("JPEG")[:600], "photo.jpg", id="truncated-jpeg"),
    ],
)
async def test_only_real_jpeg_png_and_webp_are_accepted(client, alice, data: bytes, filename: str):
    status, body = await post_file(client, alice, data, filename)
    assert_file_error(status, body)
    assert await photo_count(client, user_id_of(alice)) == 0


async def test_the_type_comes_from_the_bytes_not_the_filename(client, alice):
    photo = await upload(client, alice, striped_photo("JPEG"), filename="x.png")
    fetched = await fetch(client, path_of(photo["photo_url"]))
    assert fetched.status == 200
    assert fetched.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(await fetched.read())).format == "JPEG"
    record = await photo_record(client, photo["photo_id"])
    assert record is not None
    assert record["content_type"] == "image/jpeg"
    assert record["file_key"].endswith(".jpg")


@pytest.mark.parametrize(
    ("data", "fmt", "mode"),
    [
        pytest.param(orange_photo("PNG"), "PNG", "RGB", id="png"),
        pytest.param(pillow_photo((64, 48), "PNG", "RGBA"), "PNG", "RGBA", id="png-with-alpha"),
        pytest.param(striped_photo("WEBP"), "WEBP", "RGB", id="webp"),
        pytest.param(pillow_photo((64, 48), "WEBP", "RGBA"), "WEBP", "RGBA", id="webp-with-alpha"),
        pytest.param(orange_photo("JPEG"), "JPEG", "RGB", id="jpeg"),
    ],
)
async def test_png_webp_and_jpeg_keep_their_type(client, alice, data: bytes, fmt: str, mode: str):
    photo = await upload(client, alice, data, filename="upload.bin")
    fetched = await fetch(client, path_of(photo["photo_url"]))
    assert fetched.status == 200
    assert fetched.content_type == CONTENT_TYPES[fmt]
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(await fetched.read()))
    assert (image.format, image.mode) == (fmt, mode)
    assert image.size == Image.open(io.BytesIO(data)).size


# --- Pixels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(pillow_photo((2000, 2000)), id="2000x2000-rgb"),
        # 81 million pixels: under Pillow's own bomb limit, so only our check stops it.
        pytest.param(handmade_png(9000, 9000), id="9000x9000-one-colour"),
        # The header alone claims the size; the pixel data is not even valid. Decoding first
        # would call it unreadable: naming the pixel count shows only the header was read.
        pytest.param(handmade_png(2000, 2000, idat=b"not zlib at all" * 10), id="header-only-claim"),
    ],
)
async def test_too_many_pixels_are_refused_from_the_header_before_decoding(
    client, alice, decoded: list[tuple[int, int]], data: bytes
):
    assert len(data) < MAX_BYTES
    status, body = await post_file(client, alice, data, "photo.png")
    assert_file_error(status, body)
    assert "pixels" in body["errors"][0]["message"], body
    assert re.search(r"\b\d+x\d+\b", body["errors"][0]["message"]), body
    assert decoded == []
    assert await photo_count(client, user_id_of(alice)) == 0

    # The spy does see decoding: a photo of exactly the limit is decoded and accepted.
    await upload(client, alice, pillow_photo((1000, 1000)), filename="photo.png")
    assert (1000, 1000) in decoded


async def test_a_png_claiming_30000x30000_pixels_is_refused_with_400(
    client, alice, decoded: list[tuple[int, int]]
):
    bomb = handmade_png(30000, 30000)  # 900 million pixels in about 110 kB
    assert len(bomb) < MAX_BYTES
    status, body = await post_file(client, alice, bomb, "photo.png")
    assert_file_error(status, body)
    assert decoded == []
    assert await photo_count(client, user_id_of(alice)) == 0


# --- Metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
async def test_exif_and_gps_are_stripped_and_the_orientation_applied(client, alice, fmt: str):
    source = photo_with_exif(fmt)
    raw = Image.open(io.BytesIO(source))
    exif = raw.getexif()
    # The upload really carries what must go.
    assert raw.size == (300, 200)
    assert exif[0x0112] == 6
    assert exif[0x010F] == CAMERA
    assert exif.get_ifd(0x8825) == GPS
    assert EXIF_MARKERS[fmt] in source
    assert CAMERA.encode() in source

    photo = await upload(client, alice, source, filename="holiday.jpg")
    fetched = await fetch(client, path_of(photo["photo_url"]))
    assert fetched.status == 200
    assert fetched.content_type == CONTENT_TYPES[fmt]
    data = await fetched.read()

    assert EXIF_MARKERS[fmt] not in data
    assert b"Exif" not in data
    assert CAMERA.encode() not in data
    image = Image.open(io.BytesIO(data))
    assert image.format == fmt
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info

    # Orientation 6 applied: the raw 300x200 is shown 200x300, its left (red) half on top.
    assert image.size == (raw.height, raw.width) == (200, 300)
    top, bottom = image.convert("RGB").getpixel((100, 60)), image.convert("RGB").getpixel((100, 240))
    assert top[0] > 200, top
    assert top[2] < 60, top
    assert bottom[2] > 200, bottom
    assert bottom[0] < 60, bottom
    record = await photo_record(client, photo["photo_id"])
    assert record is not None
    assert (record["width"], record["height"]) == (200, 300)


# --- Malformed requests ---------------------------------------------------------------------


async def test_the_file_must_come_in_a_multipart_field_named_file(client, alice):
    status, body = await post_file(client, alice, orange_photo(), "photo.png", field="photo")
    assert_file_error(status, body)

    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("note", "hello")
    response = await client.post("/v1/pets/upload_photo", data=form, headers=alice)
    assert_file_error(response.status, await response.json())

    # A urlencoded form is not multipart, whatever its fields are called.
    response = await client.post("/v1/pets/upload_photo", data={"file": "aGVsbG8="}, headers=alice)
    assert (response.status, (await response.json())["code"]) == (400, 40003)

    response = await client.post("/v1/pets/upload_photo", json={"file": "aGVsbG8="}, headers=alice)
    body = await response.json()
    assert response.status == 400, body
    assert body["code"] == ErrorCode.UNSUPPORTED_CONTENT_TYPE == 40003

    raw = orange_photo()
    response = await client.post(
        "/v1/pets/upload_photo", data=raw, headers={**alice, "Content-Type": "image/png"}
    )
    assert (response.status, (await response.json())["code"]) == (400, 40003)
    assert await photo_count(client, user_id_of(alice)) == 0

    # Other fields before the file are skipped.
    form = aiohttp.FormData()
    form.add_field("note", "hello")
    form.add_field("file", raw, filename="photo.png", content_type="image/png")
    response = await client.post("/v1/pets/upload_photo", data=form, headers=alice)
    assert response.status == 200, await response.json()
    assert await photo_count(client, user_id_of(alice)) == 1


# --- Access -----------------------------------------------------------------------------------


async def test_uploading_needs_a_login(client, profile):
    status, body = await post_file(client, {}, orange_photo(), "photo.png")
    assert (status, body["code"]) == (401, ErrorCode.UNAUTHORIZED)
    status, _ = await post_file(client, bearer("not-a-token"), orange_photo(), "photo.png")
    assert status == 401
    assert stored_files(profile) == []


async def test_a_photo_is_only_for_its_owner(client, alice):
    photo = await upload(client, alice, orange_photo())
    bare = f"/v1/pets/photos/{photo['photo_id']}"
    bob = bearer((await login(client, "bob"))["token"])
    bob_id = user_id_of(bob)

    assert (await fetch(client, bare, alice)).status == 200
    assert (await fetch(client, bare)).status == 401
    assert (await fetch(client, bare, bob)).status == 403
    # A genuine signature, but for bob, who does not own the photo.
    assert (await fetch(client, signed_path(client, photo["photo_id"], bob_id))).status == 403
    assert (await fetch(client, f"/v1/pets/photos/{'0' * 32}", alice)).status == 404
    assert (await fetch(client, "/v1/pets/photos/../../etc/passwd", alice)).status in (400, 404)
    assert (await fetch(client, "/v1/pets/photos/not-a-photo-id", alice)).status == 400


async def test_ids_and_file_keys_are_unguessable(client, alice, profile):
    data = orange_photo()
    one = await upload(client, alice, data)
    two = await upload(client, alice, data)

    assert one["photo_id"] != two["photo_id"]
    for photo in (one, two):
        assert re.fullmatch(r"[0-9a-f]{32}", photo["photo_id"])
        assert re.search(rf"/v1/pets/photos/{photo['photo_id']}\?", photo["photo_url"])

    records = [await photo_record(client, photo["photo_id"]) for photo in (one, two)]
    keys = [record["file_key"] for record in records if record is not None]
    assert len(keys) == 2
    assert keys[0] != keys[1]
    for key in keys:
        assert is_key(key)
        token = key.split(".")[0]
        assert token not in one["photo_url"]
        assert token not in two["photo_url"]
    assert stored_files(profile) == sorted(keys)
    assert all(record["user_id"] == user_id_of(alice) for record in records if record is not None)


def test_a_jpeg_comment_does_not_survive():
    image = Image.new("RGB", (64, 48), (200, 100, 50))
    out = io.BytesIO()
    image.save(out, format="JPEG", comment=b"home: 39.9N 116.4E")
    assert b"116.4E" in out.getvalue()
    cleaned = clean_photo_blocking(out.getvalue(), 1_000_000, 2048)
    assert b"116.4E" not in cleaned.data
    assert "comment" not in Image.open(io.BytesIO(cleaned.data)).info
