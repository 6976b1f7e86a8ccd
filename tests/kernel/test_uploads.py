"""The multipart upload reader (:func:`mengchong.http.uploads.read_file_field`) behind a route
of a throwaway plugin: every malformed body is a 4xx in the envelope with a request id (never a
500), the whole body is counted (every part, part headers, the number of parts) with 413 past
the limit and a declared Content-Length over it refused before reading, and the connection of
a refused body is closed rather than read forever."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from mengchong import hookimpl
from mengchong.http.envelope import ok
from mengchong.http.uploads import FORM_ALLOWANCE_BYTES, read_file_field
from support import settings_from

MAX_BYTES = 4096
MAX_TOTAL = 16 * 1024
MAX_PARTS = 4
B = "XyZzy-boundary-123"
CT = f"multipart/form-data; boundary={B}"
PATH = "/v1/upload-test"
# aiohttp warns about each Content-Disposition it can't parse; the fuzz sends many on purpose.
pytestmark = [
    pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader"),
    pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionParam"),
]
DEFAULT_PATH = "/v1/upload-test-defaults"


class UploadPlugin:
    """One route that reads the field ``file`` with small limits, one with the defaults."""

    @hookimpl
    def mengchong_routes(self, app: web.Application) -> web.RouteTableDef:
        routes = web.RouteTableDef()

        @routes.post(PATH)
        async def upload(request: web.Request) -> web.Response:
            data = await read_file_field(
                request, "file", max_bytes=MAX_BYTES, max_total_bytes=MAX_TOTAL, max_parts=MAX_PARTS
            )
            return ok({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})

        @routes.post(DEFAULT_PATH)
        async def upload_with_defaults(request: web.Request) -> web.Response:
            data = await read_file_field(request, max_bytes=MAX_BYTES)
            return ok({"size": len(data)})

        return routes


@pytest.fixture
async def client(make_client, tmp_path):
    settings = settings_from(
        {
            "app": {"env": "test"},
            "database": {"url": f"sqlite://{tmp_path}/db.sqlite3"},
            "files": {"root": str(tmp_path / "files")},
            "server": {"access_log": False},
            "ratelimit": {"enabled": False},  # the fuzz sends hundreds of requests
        },
        plugins={"enabled": []},
    )
    return await make_client(settings, [("upload_test", UploadPlugin())])


def part(name: str, content: bytes, filename: str | None = None, extra: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"Content-Disposition: {disposition}\r\n{extra}"
    if filename:
        head += "Content-Type: application/octet-stream\r\n"
    return f"--{B}\r\n{head}\r\n".encode() + content + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{B}--\r\n".encode()


FILE = bytes(range(256)) * 4
VALID = form(part("note", b"hello"), part("file", FILE, "a.bin"))


async def post(client, body: bytes, content_type: str = CT, path: str = PATH, **headers: str):
    response = await client.post(path, data=body, headers={"Content-Type": content_type, **headers})
    return response, await response.json()


def assert_refused(response, body: dict, statuses: tuple[int, ...] = (400,)) -> None:
    assert response.status in statuses, (response.status, body)
    assert body["code"] // 100 == response.status, body
    assert isinstance(body["message"], str), body
    assert response.headers.get("X-Request-ID"), response.headers


async def test_a_valid_form_is_read_and_other_fields_skipped(client):
    response, body = await post(client, VALID)
    assert response.status == 200, body
    assert body["data"] == {"size": len(FILE), "sha256": hashlib.sha256(FILE).hexdigest()}


# --- Malformed bodies -------------------------------------------------------------------------

HEADER = f"--{B}\r\n".encode()
MALFORMED: list = [
    # The probe's: `curl -H 'Content-Type: multipart/form-data' --data-binary x`.
    pytest.param("multipart/form-data", b"x", id="no-boundary"),
    pytest.param("multipart/form-data; boundary=", b"x", id="empty-boundary"),
    pytest.param('multipart/form-data; boundary=""', b'--""\r\n', id="empty-quoted-boundary"),
    pytest.param(f"multipart/form-data; boundary={'b' * 71}", b"--" + b"b" * 71 + b"\r\n", id="boundary-71"),
    pytest.param(f"multipart/form-data; boundary={'b' * 500}", b"x", id="boundary-500"),
    pytest.param(
        "multipart/form-data; boundary=a; boundary=b", b"--a\r\n\r\nx\r\n--a--\r\n", id="two-boundaries"
    ),
    pytest.param(CT, b"", id="empty-body"),
    pytest.param(CT, b"no boundary anywhere\r\n" * 10, id="no-starting-boundary"),
    pytest.param(CT, HEADER, id="boundary-then-nothing"),
    pytest.param(
        CT, HEADER + b'Content-Disposition: form-data; name="file"\x00\r\n\r\nx\r\n', id="nul-in-header"
    ),
    pytest.param(CT, HEADER + b"Content-Disposition form-data\r\n\r\nx\r\n", id="header-no-colon"),
    pytest.param(CT, HEADER + b": no name\r\n\r\nx\r\n", id="header-empty-name"),
    pytest.param(CT, HEADER + b'Content-Disposition: form-data;\r name="file"\r\n\r\nx\r\n', id="bare-cr"),
    pytest.param(CT, HEADER + b'Content-Disposition: form-data; name="file"\n\nx', id="lf-only-unterminated"),
    pytest.param(CT, HEADER + b" folded: header\r\n\r\nx\r\n", id="header-starts-with-space"),
    pytest.param(CT, HEADER + b"X-Long: " + b"a" * 9000 + b"\r\n\r\nx\r\n", id="header-line-9000"),
    pytest.param(CT, HEADER + b"X-A: b\r\n" * 20 + b"\r\nx\r\n", id="twenty-headers"),
    pytest.param(CT, b"x" * 12_000, id="preamble-12k-no-newline"),
    pytest.param(CT, form(part("file", FILE, "a.bin"))[:-4], id="no-closing-boundary"),
    pytest.param(CT, part("file", FILE, "a.bin") + b"--other--\r\n", id="wrong-closing-boundary"),
    pytest.param(CT, part("file", FILE, "a.bin") + b"garbage\r\n", id="garbage-after-part"),
    pytest.param(
        CT, form(part("_charset_", b"\xff\xfe\xfd"), part("file", FILE, "f")), id="charset-not-utf8"
    ),
    pytest.param(CT, form(part("_charset_", b"x" * 40), part("file", FILE, "f")), id="charset-too-long"),
    pytest.param(
        CT,
        form(part("_charset_", b"no-such-charset"), part("file", FILE, "f")),
        id="charset-unknown",
    ),
    pytest.param(
        CT,
        HEADER + b"Content-Disposition: form-data; name*=x-nope''%ff\r\n\r\nx\r\n" + f"--{B}--\r\n".encode(),
        id="disposition-unknown-rfc5987-charset",
    ),
    pytest.param(
        CT,
        HEADER
        + b"Content-Disposition: form-data; name*=utf-8''%ff%fe\r\n\r\nx\r\n"
        + f"--{B}--\r\n".encode(),
        id="disposition-bad-utf8",
    ),
    pytest.param(
        CT,
        HEADER + b'Content-Disposition: form-data; name="a"; name="b"\r\n\r\nx\r\n' + f"--{B}--\r\n".encode(),
        id="disposition-duplicate-param",
    ),
    pytest.param(
        CT,
        HEADER + b"Content-Type: multipart/mixed\r\n\r\nx\r\n" + f"--{B}--\r\n".encode(),
        id="nested-multipart-no-boundary",
    ),
    pytest.param(
        CT,
        HEADER
        + b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\nX: y\r\n\r\nz\r\n"
        + f"--{B}--\r\n".encode(),
        id="nested-multipart-unclosed",
    ),
    pytest.param(
        CT,
        HEADER + b"Content-Type: multipart/mixed; boundary=" + b"i" * 90 + b"\r\n\r\nx\r\n",
        id="nested-boundary-too-long",
    ),
    pytest.param(CT, form(part("file", b"", "empty.bin")), id="empty-file"),
    pytest.param(CT, form(part("other", FILE, "a.bin")), id="no-file-field"),
    pytest.param(
        CT,
        form(part("file", FILE, "a.bin", extra="Content-Transfer-Encoding: x-nope\r\n"))[:30],
        id="cut-early",
    ),
]


@pytest.mark.parametrize(("content_type", "data"), MALFORMED)
async def test_every_malformed_body_is_a_400_in_the_envelope(client, content_type: str, data: bytes):
    response, body = await post(client, data, content_type)
    assert_refused(response, body)
    assert body["code"] == 40001, body
    assert body["errors"][0]["field"] in ("body", "file"), body


def random_bodies(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        noise = rng.randbytes(rng.randrange(1, 3000))
        if i % 3 == 0:  # header-ish noise: the reader gets further before it fails
            noise = b'Content-Disposition: form-data; name="file"\r\n' + noise
        if i % 4 == 0:
            noise = noise.replace(b"\n", b"\r\n")
        bodies.append(HEADER + noise)
    return bodies


async def test_random_bytes_after_a_valid_boundary_line_are_a_4xx(client):
    for data in random_bodies(200, seed=15):
        response, body = await post(client, data)
        assert_refused(response, body, (400, 413))
        assert body["code"] in (40001, 41301), body


async def test_every_cut_of_a_valid_body_is_a_4xx(client):
    for end in range(0, len(VALID) - 1, 7):
        response, body = await post(client, VALID[:end])
        assert_refused(response, body, (400,))


async def test_other_content_types_are_40003(client):
    for content_type in (
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/mixed; boundary=a",
    ):
        response, body = await post(client, VALID, content_type)
        assert (response.status, body["code"]) == (400, 40003), body
        assert response.headers["X-Request-ID"]


# --- Sizes ------------------------------------------------------------------------------------


def padded(total: int, parts_before: int = 1) -> bytes:
    """A valid form of exactly ``total`` bytes: a padding field, then the file."""
    tail = part("file", FILE, "a.bin") + f"--{B}--\r\n".encode()
    extra = [part(f"note{i}", b"x") for i in range(parts_before - 1)]
    fixed = len(tail) + sum(map(len, extra)) + len(part("pad", b""))
    return part("pad", b"p" * (total - fixed)) + b"".join(extra) + tail


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    """The body sent with Transfer-Encoding: chunked, without a Content-Length."""
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


async def test_the_whole_body_is_counted_with_and_without_a_content_length(client):
    at_limit, over = padded(MAX_TOTAL), padded(MAX_TOTAL + 1)
    assert (len(at_limit), len(over)) == (MAX_TOTAL, MAX_TOTAL + 1)
    for make in (lambda data: data, chunked):
        response, body = await post(client, make(at_limit))
        assert response.status == 200, body
        response, body = await post(client, make(over))
        assert (response.status, body["code"]) == (413, 41301), body
        assert response.headers["X-Request-ID"]
    # The probe's: a large field before the file is no longer read through and accepted.
    response, body = await post(client, chunked(padded(30 * MAX_TOTAL)))
    assert (response.status, body["code"]) == (413, 41301), body


async def test_the_default_total_is_the_file_limit_plus_an_allowance(client):
    limit = MAX_BYTES + FORM_ALLOWANCE_BYTES
    for make in (lambda data: data, chunked):
        response, body = await post(client, make(padded(limit)), path=DEFAULT_PATH)
        assert response.status == 200, body
        response, body = await post(client, make(padded(limit + 1)), path=DEFAULT_PATH)
        assert (response.status, body["code"]) == (413, 41301), body


async def test_the_file_field_has_its_own_limit(client):
    response, body = await post(client, form(part("file", b"f" * MAX_BYTES, "a.bin")))
    assert (response.status, body["data"]["size"]) == (200, MAX_BYTES), body
    response, body = await post(client, form(part("file", b"f" * (MAX_BYTES + 1), "a.bin")))
    assert (response.status, body["code"]) == (413, 41301), body
    assert body["errors"][0]["field"] == "file", body


async def test_the_number_of_parts_is_limited(client):
    response, body = await post(client, padded(MAX_TOTAL - 100, parts_before=MAX_PARTS - 1))
    assert response.status == 200, body
    response, body = await post(client, padded(MAX_TOTAL - 100, parts_before=MAX_PARTS))
    assert (response.status, body["code"]) == (413, 41301), body
    assert "parts" in body["message"], body
    # Parts after the file count too.
    response, body = await post(
        client, form(part("file", FILE, "a.bin"), *(part("n", b"") for _ in range(MAX_PARTS)))
    )
    assert (response.status, body["code"]) == (413, 41301), body


def raw_request(content_length: int | None, body: bytes = b"") -> bytes:
    length = f"Content-Length: {content_length}\r\n" if content_length is not None else ""
    encoding = "" if content_length is not None else "Transfer-Encoding: chunked\r\n"
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {CT}\r\n{length}{encoding}\r\n"
    return head.encode() + body


async def read_status(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(30):
        line = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
    return line


async def test_a_content_length_over_the_limit_is_refused_before_the_body_is_sent(client):
    # A gigabyte is announced and only a few bytes sent: the answer comes without waiting for it.
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(raw_request(10**9, HEADER))
        await writer.drain()
        assert (await read_status(reader)).startswith(b"HTTP/1.1 413 ")
    finally:
        writer.close()


async def test_a_refused_endless_body_ends_with_its_connection_closed(client):
    """After the 413 aiohttp reads the rest to the void for its lingering time (2 s, as
    `mengchong serve` sets it), then closes: an endless body does not keep the connection."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    chunk = b"%x\r\n%s\r\n" % (60_000, b"p" * 60_000)
    try:
        start = HEADER + b'Content-Disposition: form-data; name="pad"\r\n\r\n'
        writer.write(raw_request(None) + b"%x\r\n%s\r\n" % (len(start), start))
        status = asyncio.ensure_future(read_status(reader))
        closed = False
        for _ in range(6000):  # 6 MB/s for at most a minute; the server closes after ~2 s
            try:
                writer.write(chunk)
                await writer.drain()
                if status.done():
                    async with asyncio.timeout(0.01):
                        if await reader.read(1) == b"":
                            closed = True
            except TimeoutError:
                pass
            except ConnectionError:
                closed = True
            if closed:
                break
            await asyncio.sleep(0.01)
        assert (await status).startswith(b"HTTP/1.1 413 ")
        assert closed
    finally:
        writer.close()
