"""Request validation through aiohttp-apigami (marshmallow schemas that also make the OpenAPI
document), with every failure turned into our envelope: a bad field is 400/40001 naming the
field, malformed JSON 400/40002, a body that is not JSON where JSON is expected 400/40003.
"""

from __future__ import annotations

from typing import Any, NoReturn

import marshmallow as m
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_apigami.constants import SCHEMAS_ATTR
from webargs.aiohttpparser import AIOHTTPParser

from mengchong.http.errors import ApiError, ErrorCode, FieldError, flatten_messages

LOCATIONS = ("json", "querystring", "match_info", "headers", "form", "cookies", "files")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def field_name(path: str) -> str:
    """marshmallow names a whole-object error ``_schema``: name the object instead."""
    if path in ("_schema", "json"):
        return "body"
    return path.removesuffix("._schema")


def validation_error(error: m.ValidationError, *_: Any, **__: Any) -> NoReturn:
    """apigami's ``error_callback``: the field errors of one location, flattened and named."""
    messages: Any = error.messages
    if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in LOCATIONS:
        messages = next(iter(messages.values()))
    errors = [FieldError(field_name(e.field), e.message) for e in flatten_messages(messages)]
    names = ", ".join(dict.fromkeys(e.field for e in errors))
    raise ApiError(ErrorCode.BAD_FIELD, f"Invalid request: {names}", errors)


class EnvelopeParser(AIOHTTPParser):
    """webargs' parser with malformed JSON reported in our envelope."""

    def _handle_invalid_json_error(
        self, error: Exception, req: web.Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise ApiError(
            ErrorCode.MALFORMED_BODY,
            "The request body is not valid JSON",
            [FieldError("body", "invalid JSON")],
        )


def expects_json(request: web.Request) -> bool:
    handler = request.match_info.handler
    schemas = getattr(handler, SCHEMAS_ATTR, None) or ()
    return any(schema.location == "json" for schema in schemas)


@web.middleware
async def content_type_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A route that takes a JSON body refuses a body of another type before validation runs."""
    json_type = request.content_type == "application/json" or request.content_type.endswith("+json")
    if request.method in BODY_METHODS and request.body_exists and not json_type and expects_json(request):
        raise ApiError(
            ErrorCode.UNSUPPORTED_CONTENT_TYPE,
            f"Expected Content-Type application/json, got {request.content_type or 'none'}",
            [FieldError("Content-Type", "must be application/json")],
        )
    return await handler(request)
