"""The response envelope ``{"code", "message", "data"}`` and how errors become it.

Every error leaves the server through the request pipeline (:mod:`mengchong.http.pipeline`),
which answers with :func:`error_response`: our :class:`ApiError`, aiohttp's own HTTP exceptions
(unknown route, wrong method, body too large, through :func:`from_http_exception`) and anything
unexpected, logged with the request id and answered with a bare 50001 — never a traceback.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from mengchong.http.errors import ApiError, ErrorCode

_STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_CONTENT_TYPE,
    422: ErrorCode.UNPROCESSABLE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}
_STATUS_MESSAGES: dict[int, str] = {
    404: "Not found",
    405: "Method not allowed",
    413: "Request body is too large",
}


def _dumps(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def ok_body(data: Any = None, message: str = "Success") -> bytes:
    """The bytes of a success envelope, for an answer that never changes (build it once)."""
    return _dumps({"code": 0, "message": message, "data": data})


def ok(data: Any = None, message: str = "Success", status: int = 200) -> web.Response:
    """A success envelope."""
    return json_response(ok_body(data, message), status)


def json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def error_response(error: ApiError) -> web.Response:
    response = json_response(_dumps(error.body()), error.status)
    response.headers.update(error.headers)
    if error.headers.get("Connection") == "close":  # the rest of the request can't be told apart
        response.force_close()
    return response


def from_http_exception(exc: web.HTTPException) -> ApiError:
    """aiohttp's own HTTP errors (routing, size limits) in our terms."""
    code = _STATUS_CODES.get(exc.status, ErrorCode.INTERNAL if exc.status >= 500 else ErrorCode.BAD_REQUEST)
    message = _STATUS_MESSAGES.get(exc.status) or exc.reason
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
    return ApiError(code, message, headers=headers, status=exc.status)
