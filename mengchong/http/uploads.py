"""Reading one file from a ``multipart/form-data`` upload: the only way a route reads multipart.

aiohttp's multipart reader raises whatever its parsers meet in a malformed body (ValueError,
AssertionError, RuntimeError, its HTTP parser's errors, ...) and limits nothing across parts.
:func:`read_file_field` answers every such body with 400 in the envelope and counts the whole
body as the reader consumes it (preamble, part headers, every part, nested ones too): past
``max_total_bytes``, past ``max_parts`` parts or with a file over ``max_bytes`` it answers 413.
A Content-Length over the limit is refused before anything is read. The rest of a refused body
is aiohttp's to discard: it reads it to the void for at most its lingering time (10 s), then
closes the connection. The body is read within ``server.body_timeout_seconds``
(:func:`~mengchong.http.body.body_deadline`).
"""

from __future__ import annotations

import logging
import warnings

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam
from aiohttp.streams import StreamReader

from mengchong.http.body import body_deadline
from mengchong.http.errors import ApiError, ErrorCode, FieldError, field_error

log = logging.getLogger("mengchong.http")

# Room for the boundaries, the part headers and a few small fields besides the file.
FORM_ALLOWANCE_BYTES = 64 * 1024
MAX_PARTS = 16
# Part headers: a form part needs two (Content-Disposition, Content-Type); aiohttp allows 128.
MAX_PART_HEADERS = 16
MAX_HEADER_BYTES = 8190  # one part header line, as aiohttp's own limit for request headers
CHUNK = 64 * 1024

# What aiohttp's multipart reader, its header parser and the request's body stream raise for
# a malformed or cut body. UnicodeDecodeError is a ValueError; the content-disposition classes
# are warnings aiohttp emits, raised only where warnings are errors.
MALFORMED: tuple[type[Exception], ...] = (
    ValueError,
    AssertionError,
    RuntimeError,
    LookupError,
    HttpProcessingError,
    BadContentDispositionHeader,
    BadContentDispositionParam,
)


def too_large(what: str, limit: int, field: str | None = None) -> ApiError:
    message = f"{what} is over {limit} bytes"
    return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, message, [FieldError(field, message)] if field else None)


class CountedBody:
    """The request body as the multipart reader consumes it, refusing past ``limit`` bytes.

    It offers the four methods the reader calls on a :class:`~aiohttp.StreamReader`; what the
    reader pushes back (``unread_data``) is taken off the count, so every byte counts once."""

    def __init__(self, stream: StreamReader, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self.consumed = 0

    def _count(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self.limit:
            raise too_large("The request body", self.limit)
        return data

    async def read(self, n: int = -1) -> bytes:
        return self._count(await self._stream.read(n))

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        return self._count(await self._stream.readline(max_line_length=max_line_length))

    def at_eof(self) -> bool:
        return self._stream.at_eof()

    def unread_data(self, data: bytes) -> None:
        with warnings.catch_warnings():  # deprecated in aiohttp, which still calls it itself
            warnings.simplefilter("ignore", DeprecationWarning)
            self._stream.unread_data(data)
        self.consumed -= len(data)


async def read_file_field(
    request: web.Request,
    field: str = "file",
    *,
    max_bytes: int,
    max_total_bytes: int | None = None,
    max_parts: int = MAX_PARTS,
) -> bytes:
    """The content of the multipart field ``field``, read whole (at most ``max_bytes``).

    The whole body may be ``max_total_bytes`` (default: ``max_bytes`` plus
    :data:`FORM_ALLOWANCE_BYTES`) in at most ``max_parts`` parts; it is read to its end, so a
    body malformed or too large after the file is refused too. Answers 40003 for another
    content type, 41301 past a limit, 40001 naming ``body`` for a malformed body and naming
    ``field`` when the field is missing or empty."""
    if request.content_type != "multipart/form-data":
        raise ApiError(
            ErrorCode.UNSUPPORTED_CONTENT_TYPE, f"Expected multipart/form-data with a {field} field"
        )
    limit = max_total_bytes if max_total_bytes is not None else max_bytes + FORM_ALLOWANCE_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise too_large("The request body", limit)
    try:
        async with body_deadline(request):
            content = await _find_field(request, field, max_bytes, limit, max_parts)
    except MALFORMED as exc:
        log.info("malformed multipart body: %s: %.200s", type(exc).__name__, exc)
        raise field_error("body", "is not well-formed multipart/form-data") from None
    if content is None:
        raise field_error(field, f"is required (multipart field '{field}')")
    if not content:
        raise field_error(field, "is empty")
    return content


async def _find_field(
    request: web.Request, field: str, max_bytes: int, limit: int, max_parts: int
) -> bytes | None:
    """The first part named ``field``, after reading the whole body through the counter."""
    reader = MultipartReader(
        request.headers,
        CountedBody(request.content, limit),  # type: ignore[arg-type]  # all the reader calls
        max_field_size=MAX_HEADER_BYTES,
        max_headers=MAX_PART_HEADERS,
    )
    content: bytes | None = None
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > max_parts:
            raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"The request body has more than {max_parts} parts")
        if content is None and isinstance(part, BodyPartReader) and part.name == field:
            content = await _read_part(part, field, max_bytes)
        # Any other part is read to the void by the next reader.next(), counted as it goes.
    return content


async def _read_part(part: BodyPartReader, field: str, max_bytes: int) -> bytes:
    buffer = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        buffer.extend(chunk)
        if len(buffer) > max_bytes:
            raise too_large(f"The {field} field", max_bytes, field)
    return bytes(buffer)
