"""The business error codes (seed §4.3/4.4) and the exceptions that carry them.

A code is five digits and starts with its HTTP status. Handlers and services raise
:class:`ApiError` (or a subclass); the request pipeline turns it into the envelope.
The same table is published in the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    BAD_FIELD = 40001
    MALFORMED_BODY = 40002
    UNSUPPORTED_CONTENT_TYPE = 40003
    BAD_REQUEST = 40004
    UNAUTHORIZED = 40101
    FORBIDDEN = 40301
    NOT_FOUND = 40401
    METHOD_NOT_ALLOWED = 40501
    REQUEST_TIMEOUT = 40801
    CONFLICT = 40901
    PAYLOAD_TOO_LARGE = 41301
    UNPROCESSABLE = 42200
    INSUFFICIENT_POINTS = 42201
    OUT_OF_STOCK = 42202
    SENSITIVE_CONTENT = 42203
    LIMIT_REACHED = 42204
    RATE_LIMITED = 42901
    INTERNAL = 50001
    WECHAT_FAILED = 50201
    UNAVAILABLE = 50301

    @property
    def status(self) -> int:
        return self.value // 100


DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.BAD_FIELD: "A field is missing or invalid; `errors` names it.",
    ErrorCode.MALFORMED_BODY: "The body is not valid JSON (or not the expected shape).",
    ErrorCode.UNSUPPORTED_CONTENT_TYPE: "The Content-Type is not the one this route accepts.",
    ErrorCode.BAD_REQUEST: "The request can't be carried out as asked (e.g. the pet is already full).",
    ErrorCode.UNAUTHORIZED: "No token, or an invalid, expired or revoked one.",
    ErrorCode.FORBIDDEN: "Authenticated, but the resource is not yours.",
    ErrorCode.NOT_FOUND: "No such resource or route.",
    ErrorCode.METHOD_NOT_ALLOWED: "The route exists but not with this method.",
    ErrorCode.REQUEST_TIMEOUT: "The request body was not received in time.",
    ErrorCode.CONFLICT: "Already done (already checked in, already adopted, duplicate).",
    ErrorCode.PAYLOAD_TOO_LARGE: "The body is over the size limit.",
    ErrorCode.UNPROCESSABLE: "Well-formed but semantically wrong.",
    ErrorCode.INSUFFICIENT_POINTS: "Not enough points (or items) for this.",
    ErrorCode.OUT_OF_STOCK: "Not enough stock.",
    ErrorCode.SENSITIVE_CONTENT: "The text contains a blocked word.",
    ErrorCode.LIMIT_REACHED: "A limit on how many times this may be done (per month, per user) is reached.",
    ErrorCode.RATE_LIMITED: "Too many requests; see Retry-After.",
    ErrorCode.INTERNAL: "Unexpected server error; the request id is in X-Request-ID.",
    ErrorCode.WECHAT_FAILED: "The WeChat server API failed or timed out.",
    ErrorCode.UNAVAILABLE: (
        "A backend is unavailable, or the request ran past its deadline; retry after Retry-After."
    ),
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ApiError(Exception):
    """An error the client should see, with its business code, message and field errors."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        errors: list[FieldError] | None = None,
        *,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}
        self.status = status or code.status

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body


def field_error(field: str, message: str, code: ErrorCode = ErrorCode.BAD_FIELD) -> ApiError:
    """One bad field: ``raise field_error("nickname", "must be 1-20 characters")``."""
    return ApiError(code, f"Invalid {field}: {message}", [FieldError(field, message)])


def not_found(what: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"{what} not found")


def forbidden(message: str = "This resource belongs to another user") -> ApiError:
    return ApiError(ErrorCode.FORBIDDEN, message)


def conflict(message: str) -> ApiError:
    return ApiError(ErrorCode.CONFLICT, message)


def flatten_messages(messages: Any, prefix: str = "") -> list[FieldError]:
    """marshmallow's nested ``{"field": ["msg"], "obj": {"inner": [...]}}`` as dotted field errors."""
    if isinstance(messages, dict):
        errors: list[FieldError] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            errors.extend(flatten_messages(value, name))
        return errors
    if isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        return [FieldError(prefix or "body", "; ".join(messages))]
    if isinstance(messages, list):
        return [error for item in messages for error in flatten_messages(item, prefix)]
    return [FieldError(prefix or "body", str(messages))]
