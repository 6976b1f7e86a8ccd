"""Memory of a real server process under photo bombs: twelve concurrent uploads from one
logged-in user of one-colour images (kilobytes on the wire, tens of MiB decoded) must not grow
the process by more than a stated bound, at the peak or after; for the probe's 4000x6000 PNG and
for the costliest photo of each format the defaults accept.

The server is ``python -m mengchong serve`` (tests/served.py) with the shipped defaults, but for
a longer wait for a decode slot, so that a busy machine does not turn uploads into 503s, and
memory is read from ``/proc/<pid>/status``: VmRSS before and after, VmHWM (the peak resident
set) over the uploads. These are memory bounds, not timings. Measured on the 2-core machine:
the probe's bomb took the server of before from 100 MiB to a peak of +1652 MiB and left it
600-900 MiB larger; now +1 MiB (refused from its header). The costliest photo accepted, a
4095x3072 RGBA PNG, peaks at +150 MiB and leaves +2 MiB."""

from __future__ import annotations

import asyncio
import io
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from mengchong_plugins.pets.settings import PetsSettings
from served import ServerProcess, served
from support import bearer

MIB = 1024 * 1024
UPLOADS = 12
# What twelve concurrent uploads of bombs at the pixel limit may add to the server's resident
# set: at the peak (VmHWM), and once they are answered (glibc keeps freed memory unless told).
PEAK_GROWTH_LIMIT = 300 * MIB
AFTER_GROWTH_LIMIT = 64 * MIB

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")


def one_colour_png(width: int, height: int, channels: int) -> bytes:
    """An 8-bit PNG (3 channels: RGB, 4: RGBA) of one colour, compressed row by row so that
    it never exists decoded here: a few hundred kilobytes at most for tens of megapixels."""
    colour = bytes((200, 120, 40, 255)[:channels])
    row = b"\x02" + colour * width  # filter 2 (up): every row after the first is all zeros
    compressor = zlib.compressobj(9)
    first = compressor.compress(b"\x00" + colour * width)
    rest = b"".join(compressor.compress(b"\x02" + bytes(len(row) - 1)) for _ in range(height - 1))
    idat = first + rest + compressor.flush()
    kind = {3: 2, 4: 6}[channels]

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, kind, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def reset_peak(pid: int) -> None:
    """Start VmHWM again from the current resident set (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[tuple[ServerProcess, aiohttp.ClientSession]]:
    env = {"MENGCHONG__SERVER__ACCESS_LOG": "false", "MENGCHONG__PETS__PHOTO_DECODE_WAIT_SECONDS": "60"}
    connector = aiohttp.TCPConnector(limit=0)
    async with served(tmp_path, **env) as process, aiohttp.ClientSession(connector=connector) as session:
        yield process, session


async def upload_all(
    session: aiohttp.ClientSession, base: str, auth: dict, photo: bytes, uploads: int = UPLOADS
) -> list[int]:
    async def one() -> int:
        form = aiohttp.FormData()
        form.add_field("file", photo, filename="bomb.png", content_type="image/png")
        async with session.post(f"{base}/v1/pets/upload_photo", data=form, headers=auth) as response:
            body = await response.json()
            assert "code" in body, body
            if response.status == 503:
                assert response.headers["Retry-After"], body
            return response.status

    return list(await asyncio.gather(*(one() for _ in range(uploads))))


def pillow_bomb(size: tuple[int, int], fmt: str, **options) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def bombs() -> dict[str, bytes]:
    """The probe's bomb, then for each format the most expensive photo the defaults accept."""
    limit = PetsSettings().photo_max_pixels
    side = 4096
    return {
        # The probe's: 4000x6000 in one colour, about 80 kB; now over the pixel limit.
        "probe 4000x6000 PNG": one_colour_png(4000, 6000, channels=3),
        # With alpha, one pixel short of twice photo_max_side: no whole-factor reduction, only a
        # resize, for which Pillow copies a whole RGBA image to premultiply it (pixels.shrink
        # resizes strip by strip).
        f"PNG RGBA {side - 1}x{limit // side}": one_colour_png(side - 1, limit // side, channels=4),
        # A WebP may have a quarter of the pixels; libwebp decodes into two canvases of its own.
        f"WebP {side // 2}x{limit // side // 2}": pillow_bomb(
            (side // 2, limit // side // 2), "WEBP", lossless=True
        ),
        # A progressive JPEG keeps every DCT coefficient of the full-size image while decoding.
        f"progressive JPEG {side}x{limit // side}": pillow_bomb(
            (side, limit // side), "JPEG", progressive=True
        ),
    }


async def test_twelve_concurrent_photo_bombs_keep_the_server_within_its_memory_bound(server):
    served_process, session = server
    process, base = served_process.process, served_process.base
    async with session.post(f"{base}/v1/auth/wechat_login", json={"code": "bomber"}) as response:
        auth = bearer((await response.json())["data"]["token"])
    # Warm up (imports, first allocations) with small uploads.
    small = one_colour_png(64, 48, 3)
    assert await upload_all(session, base, auth, small) == [200] * UPLOADS

    figures = {}
    for name, photo in bombs().items():
        before = memory_of(process.pid)["VmRSS"]
        reset_peak(process.pid)
        statuses = await upload_all(session, base, auth, photo)
        peak = memory_of(process.pid)["VmHWM"]
        # A request cancelled by its deadline (503) leaves its decode running in its slot: small
        # uploads in every slot at once end only once no decode is left.
        await upload_all(session, base, auth, small, PetsSettings().photo_decode_slots)
        after = {"VmHWM": peak, "VmRSS": memory_of(process.pid)["VmRSS"]}
        figures[name] = (len(photo), before, after["VmHWM"] - before, after["VmRSS"] - before, statuses)
    report = "\n".join(
        f"{name} ({size} bytes): before {b / MIB:.0f} MiB, peak +{p / MIB:.0f} MiB, "
        f"after +{a / MIB:.0f} MiB, statuses {sorted(set(s))}"
        for name, (size, b, p, a, s) in figures.items()
    )
    print(report)
    for name, (_, _, peak, after, statuses) in figures.items():
        assert peak < PEAK_GROWTH_LIMIT, report
        assert after < AFTER_GROWTH_LIMIT, report
        # The bound holds for work done, not work refused: the photos at the limit are taken
        # (a 503 only if the machine is so busy that one waited a minute for a decode slot).
        if name.startswith("probe"):
            assert set(statuses) == {400}, report
        else:
            assert 200 in statuses, report
            assert set(statuses) <= {200, 503}, report
