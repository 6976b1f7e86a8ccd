"""What bounds the cost of an upload, over HTTP on both profiles: a malformed multipart body is
a 400 (never a 500), the whole body is capped (a large field before the photo gets 413), stored
photos are shrunk to ``photo_max_side`` with a large JPEG decoded at reduced scale, a WebP is
measured from its header before Pillow (and libwebp's canvas) ever sees it, and at most
``photo_decode_slots`` decodes run at once (503 with Retry-After past the wait). The memory of
a real server under photo bombs is measured in test_upload_memory.py."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageChops, ImageFile, ImageStat, WebPImagePlugin

from mengchong import plugin_settings
from mengchong.http.uploads import FORM_ALLOWANCE_BYTES
from mengchong.keys import database_key, documents_key
from mengchong_plugins.pets import decoding, pixels
from mengchong_plugins.pets.settings import PetsSettings
from pets_support import orange_photo, upload, user_id_of

MAX_BYTES = 200_000
MAX_PIXELS = 4_000_000
MAX_SIDE = 500
WAIT_SECONDS = 0.2


@pytest.fixture
def pets_overrides() -> dict:
    return {
        "photo_max_bytes": MAX_BYTES,
        "photo_max_pixels": MAX_PIXELS,
        "photo_max_side": MAX_SIDE,
        "photo_decode_slots": 1,
        "photo_decode_wait_seconds": WAIT_SECONDS,
    }


def encoded(size: tuple[int, int], fmt: str, mode: str = "RGB", **options: Any) -> bytes:
    image = Image.new(mode, size, (30, 120, 200, 255)[: len(mode)])
    if mode == "RGB":  # a left half of another colour, to see which way up it is stored
        image.paste((250, 20, 20), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


async def post_raw(client, auth: dict, body: Any, content_type: str) -> tuple[aiohttp.ClientResponse, dict]:
    headers = {**auth, "Content-Type": content_type}
    response = await client.post("/v1/pets/upload_photo", data=body, headers=headers)
    return response, await response.json()


async def stored(client, photo: dict) -> Image.Image:
    response = await client.get(photo["photo_url"][photo["photo_url"].index("/v1/") :])
    assert response.status == 200
    return Image.open(io.BytesIO(await response.read()))


async def photo_count(client, user_id: int) -> int:
    app = client.server.app
    with app[database_key].activate():
        return await app[documents_key].collection("pet_photos").count({"user_id": user_id})


@pytest.fixture
def decoded(monkeypatch) -> list[tuple[tuple[int, int], bool]]:
    """Each image Pillow decodes from now on: its size when decoded, and whether the decoding
    ran on the main (event loop) thread."""
    seen: list[tuple[tuple[int, int], bool]] = []
    original: Callable[..., Any] = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        seen.append((self.size, threading.current_thread() is threading.main_thread()))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


@pytest.fixture
def webp_decoders(monkeypatch) -> list[int]:
    """Every libwebp decoder Pillow creates from now on (it allocates the canvas at once)."""
    created: list[int] = []
    original = WebPImagePlugin._webp.WebPAnimDecoder

    def spy(data: bytes) -> Any:
        created.append(len(data))
        return original(data)

    monkeypatch.setattr(WebPImagePlugin._webp, "WebPAnimDecoder", spy)
    return created


# --- Malformed and oversized bodies -----------------------------------------------------------

B = "b0undary"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # The probe's: curl -H 'Content-Type: multipart/form-data' --data-binary x
        pytest.param("multipart/form-data", b"x", id="no-boundary"),
        pytest.param("multipart/form-data; boundary=", b"x", id="empty-boundary"),
        pytest.param(f"multipart/form-data; boundary={'b' * 80}", b"x", id="boundary-too-long"),
        pytest.param(f"multipart/form-data; boundary={B}", f"--{B}\r\nX: a\x00b\r\n\r\nx".encode(), id="nul"),
        pytest.param(
            f"multipart/form-data; boundary={B}", f"--{B}\r\nno colon\r\n\r\nx".encode(), id="no-colon"
        ),
        pytest.param(
            f"multipart/form-data; boundary={B}", f"--{B}\r\nX: a\rb\r\n\r\nx".encode(), id="bare-cr"
        ),
    ],
)
async def test_a_malformed_multipart_body_is_a_400_never_a_500(client, alice, content_type: str, body: bytes):
    response, payload = await post_raw(client, alice, body, content_type)
    assert response.status == 400, payload
    assert payload["code"] == 40001, payload
    assert payload["errors"][0]["field"] in ("body", "file"), payload
    assert response.headers["X-Request-ID"]
    assert await photo_count(client, user_id_of(alice)) == 0


def form_with_padding(padding: int, photo: bytes) -> bytes:
    pad = f'--{B}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode() + b"n" * padding + b"\r\n"
    head = f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n\r\n'.encode()
    return pad + head + photo + f"\r\n--{B}--\r\n".encode()


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


async def test_a_large_field_before_the_photo_is_refused_with_413(client, alice):
    photo = orange_photo()
    limit = MAX_BYTES + FORM_ALLOWANCE_BYTES
    content_type = f"multipart/form-data; boundary={B}"
    fixed = len(form_with_padding(0, photo))
    for send in (lambda data: data, chunked):  # with a Content-Length, and without one
        # The probe's: a field 30 times the photo limit, before the photo.
        response, payload = await post_raw(
            client, alice, send(form_with_padding(30 * MAX_BYTES, photo)), content_type
        )
        assert (response.status, payload["code"]) == (413, 41301), payload
        response, payload = await post_raw(
            client, alice, send(form_with_padding(limit - fixed + 1, photo)), content_type
        )
        assert (response.status, payload["code"]) == (413, 41301), payload
    assert await photo_count(client, user_id_of(alice)) == 0
    response, payload = await post_raw(client, alice, form_with_padding(limit - fixed, photo), content_type)
    assert response.status == 200, payload


# --- Shrinking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kept"),
    [
        pytest.param((1200, 800), (500, 333), id="landscape"),
        pytest.param((800, 1200), (333, 500), id="portrait"),
        pytest.param((MAX_SIDE, 300), (MAX_SIDE, 300), id="exactly-max-side"),
        pytest.param((MAX_SIDE + 1, 300), (MAX_SIDE, 299), id="one-over"),
    ],
)
@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
async def test_stored_photos_are_shrunk_to_the_longest_side(client, alice, fmt, size, kept):
    photo = await upload(client, alice, encoded(size, fmt), filename="x")
    image = await stored(client, photo)
    assert (image.format, image.size) == (fmt, kept)
    left, right = (
        image.convert("RGB").getpixel((2, kept[1] // 2)),
        image.convert("RGB").getpixel((kept[0] - 3, 2)),
    )
    assert left[0] > 200 > left[2], left  # red stays on the left
    assert right[2] > 150 > right[0], right


async def test_alpha_survives_the_shrinking(client, alice):
    photo = await upload(client, alice, encoded((1500, 999), "PNG", "RGBA"), filename="x")
    image = await stored(client, photo)
    assert (image.mode, image.size, image.getpixel((10, 10))) == ("RGBA", (500, 333), (30, 120, 200, 255))


async def test_a_large_jpeg_is_decoded_at_reduced_scale_in_a_worker_thread(client, alice, decoded):
    photo = await upload(client, alice, encoded((2400, 1600), "JPEG"))
    # 2400x1600 drafted for a 500 side: 1/4 scale (600x400) still has it, 1/8 would not.
    assert decoded[0] == ((600, 400), False), decoded
    assert (await stored(client, photo)).size == (500, 333)


async def test_the_orientation_is_applied_to_the_shrunk_photo(client, alice):
    image = Image.new("RGB", (1200, 800), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 600, 800))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the red half on top
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    shown = (await stored(client, await upload(client, alice, out.getvalue()))).convert("RGB")
    assert shown.size == (333, 500)
    top, bottom = shown.getpixel((166, 60)), shown.getpixel((166, 440))
    assert top[0] > 200 > top[2], top
    assert bottom[2] > 200 > bottom[0], bottom


def noise_rgba(size: tuple[int, int]) -> Image.Image:
    noise = Image.effect_noise(size, 80).convert("RGB")
    alpha = Image.linear_gradient("L").resize(size).point(lambda v: 64 + v * 3 // 4)
    return Image.merge("RGBA", [*noise.split(), alpha])


def test_a_strip_by_strip_reduction_equals_the_whole_image_one(monkeypatch):
    image = noise_rgba((999, 601))
    monkeypatch.setattr(pixels, "STRIP_BYTES", 999 * 4 * 3 * 7)  # strips of 21 rows, a last short one
    assert pixels.shrink(image.copy(), 333).tobytes() == image.reduce(3).tobytes()


@pytest.mark.parametrize(
    ("size", "target"),
    [
        ((999, 601), (700, 421)),
        ((601, 999), (421, 700)),
        ((1000, 1000), (999, 999)),
        ((4095, 40), (2048, 20)),
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_strip_by_strip_resize_is_the_whole_image_one_but_for_rounding(monkeypatch, size, target, mode):
    image = noise_rgba(size).convert(mode)
    monkeypatch.setattr(pixels, "STRIP_BYTES", size[0] * 4 * 13)  # strips of 13 source rows
    ours, pillows = pixels.resize_in_strips(image, target), image.resize(target, Image.Resampling.LANCZOS)
    difference = ImageChops.difference(ours, pillows)
    assert max(high for _, high in difference.getextrema()) <= 4
    assert max(ImageStat.Stat(difference).mean) < 0.05


# --- WebP -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "mode", "chunk"),
    [
        pytest.param({"quality": 80}, "RGB", b"VP8 ", id="lossy"),
        pytest.param({"lossless": True}, "RGB", b"VP8L", id="lossless"),
        pytest.param({"quality": 80}, "RGBA", b"VP8X", id="extended-alpha"),
        pytest.param(
            {"quality": 80, "exif": b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"}, "RGB", b"VP8X", id="exif"
        ),
    ],
)
def test_the_webp_header_gives_the_canvas_size(options: dict, mode: str, chunk: bytes):
    for size in ((1, 1), (641, 479), (3000, 17)):
        out = io.BytesIO()
        Image.new(mode, size, (30, 120, 200, 128)[: len(mode)]).save(out, format="WEBP", **options)
        data = out.getvalue()
        assert data[12:16] == chunk
        assert pixels.webp_size(data) == size


def webp_header(width: int, height: int) -> bytes:
    """Only the extended header of a WebP file: its canvas size and nothing to decode."""
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + (22).to_bytes(4, "little") + b"WEBPVP8X" + (10).to_bytes(4, "little") + bytes(4) + canvas


def test_an_unreadable_webp_header_has_no_size():
    assert pixels.webp_size(webp_header(8000, 3)) == (8000, 3)
    assert pixels.webp_size(b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00nope") is None
    assert pixels.webp_size(b"RIFF\x00\x00\x00\x00WEBPVP8X") is None
    assert pixels.webp_size(b"RIFF\x00\x00\x00\x00WEBP????" + bytes(30)) is None


async def test_a_webp_may_have_a_quarter_of_the_pixels_measured_before_pillow_opens_it(
    client, alice, webp_decoders
):
    limit = MAX_PIXELS // 4
    await upload(client, alice, encoded((1000, limit // 1000), "WEBP", lossless=True))
    assert len(webp_decoders) == 1
    # One pixel over; and a header alone claiming 8000x8000 (libwebp would take 2 x 256 MB).
    for size, data in (
        ((1000, limit // 1000 + 1), encoded((1000, limit // 1000 + 1), "WEBP", lossless=True)),
        ((8000, 8000), webp_header(8000, 8000)),
    ):
        response, payload = await post_raw(
            client, alice, form_with_padding(0, data), f"multipart/form-data; boundary={B}"
        )
        assert response.status == 400, payload
        assert f"{size[0]}x{size[1]}" in payload["errors"][0]["message"], payload
        assert str(limit) in payload["errors"][0]["message"], payload
    assert len(webp_decoders) == 1  # the refused ones never reached libwebp
    assert await photo_count(client, user_id_of(alice)) == 1


# --- Decode slots -----------------------------------------------------------------------------


async def post_photo(client, auth: dict) -> tuple[aiohttp.ClientResponse, dict]:
    return await post_raw(
        client, auth, form_with_padding(0, orange_photo()), f"multipart/form-data; boundary={B}"
    )


async def test_an_upload_waits_for_a_decode_slot_then_gets_503(client, alice):
    app = client.server.app
    slots = decoding.decode_slots(app, plugin_settings(app, PetsSettings))
    release = threading.Event()
    busy = asyncio.ensure_future(slots.run(release.wait))  # the only slot, taken by a decode
    try:
        await asyncio.sleep(0)
        response, payload = await post_photo(client, alice)
        assert (response.status, payload["code"]) == (503, 50301), payload
        assert response.headers["Retry-After"] == "1"
        assert response.headers["X-Request-ID"]
        assert await photo_count(client, user_id_of(alice)) == 0
    finally:
        release.set()
    assert await busy is True
    response, payload = await post_photo(client, alice)  # the slot is back
    assert response.status == 200, payload


async def test_a_slot_is_held_until_its_decode_ends_even_when_its_request_is_cancelled(client, alice):
    app = client.server.app
    slots = decoding.decode_slots(app, plugin_settings(app, PetsSettings))
    release, started = threading.Event(), threading.Event()

    def decode() -> None:
        started.set()
        release.wait()

    waiting = asyncio.ensure_future(slots.run(decode))
    try:
        while not started.is_set():
            await asyncio.sleep(0.01)
        waiting.cancel()  # the request goes (client gone, deadline); its decode thread runs on
        with pytest.raises(asyncio.CancelledError):
            await waiting
        response, payload = await post_photo(client, alice)
        assert (response.status, payload["code"]) == (503, 50301), payload
    finally:
        release.set()  # else the thread would outlive the test
    for _ in range(500):  # the slot comes back when the thread ends
        response, payload = await post_photo(client, alice)
        if response.status != 503:
            break
    assert response.status == 200, payload
