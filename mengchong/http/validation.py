"""Request validation through aiohttp-apigami (marshmallow schemas that also make the OpenAPI
document), with every failure turned into our envelope: a bad field is 400/40001 naming the
field, malformed JSON 400/40002, a body that is not JSON where JSON is expected 400/40003.

:class:`RouteNeeds` is what a route's decorators ask for, checked by the request pipeline in
this order: its guard (``@authenticated``, ``@admin_only``), the JSON content type, its schemas.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from weakref import WeakKeyDictionary

import marshmallow as m
import orjson
from aiohttp import web
from aiohttp_apigami.constants import APISPEC_PARSER, APISPEC_VALIDATED_DATA_NAME, SCHEMAS_ATTR
from aiohttp_apigami.validation import ValidationSchema
from webargs import core
from webargs.aiohttpparser import AIOHTTPParser, is_json_request

from mengchong.http.body import read_body
from mengchong.http.conventions import HEX_ID_PATTERN, is_hex_id
from mengchong.http.errors import ApiError, ErrorCode, FieldError, flatten_messages
from mengchong.http.text import check_json, check_parameters
from mengchong.keys import KEPT_DOCUMENT

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
    """webargs' parser with JSON read by orjson and checked by :func:`check_json` (depth, text a
    database can't store), query and path parameters checked likewise, and every failure
    reported in our envelope."""

    async def load_json(self, req: web.Request, schema: m.Schema) -> Any:
        if not (req.body_exists and is_json_request(req)):
            return core.missing
        body = await read_body(req)
        if not body:
            return core.missing
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            document = self._with_lone_surrogates(body, exc, req)
        check_json(document)
        return document

    def _with_lone_surrogates(self, body: bytes, error: orjson.JSONDecodeError, req: web.Request) -> Any:
        """orjson refuses an escaped lone surrogate (``"\\ud800"``), which is well-formed JSON
        text; the standard parser keeps it, so that :func:`check_json` can name the field."""
        if "surrogate" not in str(error):
            self._handle_invalid_json_error(error, req)
        try:
            return json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            self._handle_invalid_json_error(exc, req)

    def load_querystring(self, req: web.Request, schema: m.Schema) -> Any:
        check_parameters(req.query.items(), "query")
        return super().load_querystring(req, schema)

    def load_match_info(self, req: web.Request, schema: m.Schema) -> Any:
        check_parameters(req.match_info.items(), "path")
        return super().load_match_info(req, schema)

    def _handle_invalid_json_error(
        self, error: Exception, req: web.Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise ApiError(
            ErrorCode.MALFORMED_BODY,
            "The request body is not valid JSON",
            [FieldError("body", "invalid JSON")],
        )


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


GUARD_ATTR = "__mengchong_guard__"
COUNTS_CLIENT_IP_ATTR = "__mengchong_counts_client_ip__"
Guard = Callable[[web.Request], Awaitable[Any]]


def counts_client_ip(guard: Guard) -> Guard:
    """Mark a guard that counts the client IP's rate limit itself (when the pipeline sets
    :data:`~mengchong.keys.IP_PENDING`), on every path out, failures included."""
    setattr(guard, COUNTS_CLIENT_IP_ATTR, True)
    return guard


def counts_client_ip_on_a_miss(handler: Any) -> Any:
    """Mark a public route whose answer is usually one cache read (a cached page): the pipeline
    leaves its client IP's rate limit pending (:data:`~mengchong.keys.IP_PENDING`) and the
    handler counts it (``app[limiter_key].check_pending_ip(request)``) only before the work a
    cache miss does. A request answered from the cache is not counted: counting it would cost
    as much as answering it, and protect nothing the database needs."""
    setattr(handler, COUNTS_CLIENT_IP_ATTR, True)
    return handler


KEPT_DOCUMENT_ATTR = "__mengchong_kept_document__"


def keeps_document(collection: str, match_info_key: str) -> Callable[[Any], Any]:
    """Mark an authenticated route that reads the document of ``collection`` named by its path's
    ``match_info_key`` through a :class:`~mengchong.storage.kept_documents.KeptCollection`: the
    auth guard reads the document's stored version in the round trip it makes anyway, and puts
    it under :data:`~mengchong.keys.DOC_VERSION`, so a kept copy is served with no other."""

    def mark(handler: Any) -> Any:
        setattr(handler, KEPT_DOCUMENT_ATTR, (collection, match_info_key))
        return handler

    return mark


EARLY_ANSWER_ATTR = "__mengchong_early_answer__"
EarlyAnswer = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


def answered_early_by(answer: EarlyAnswer) -> Callable[[Any], Any]:
    """Mark a public route with an answer tried before its guard and schemas, from the raw
    request: ``answer`` returns the response (nothing else runs) or None (the route runs as
    usual). For a cached page keyed by the exact query string a validated request once had: the
    same string can only validate the same way again, and validating it was a third of the
    answer's cost. Only a response that does not depend on who is asking belongs here."""

    def mark(handler: Any) -> Any:
        setattr(handler, EARLY_ANSWER_ATTR, answer)
        return handler

    return mark


@dataclass(frozen=True)
class RouteNeeds:
    """What one handler requires before it runs, read once from its decorators."""

    guard: Guard | None
    json_body: bool
    schemas: tuple[ValidationSchema, ...]
    guard_counts_ip: bool = False
    early: EarlyAnswer | None = None
    kept: tuple[str, str] | None = None

    @classmethod
    def of(cls, handler: Any) -> RouteNeeds | None:
        """None when the handler needs nothing (health checks, public pages)."""
        guard = getattr(handler, GUARD_ATTR, None)
        schemas = tuple(getattr(handler, SCHEMAS_ATTR, None) or ())
        counts_ip = getattr(guard, COUNTS_CLIENT_IP_ATTR, False) or getattr(
            handler, COUNTS_CLIENT_IP_ATTR, False
        )
        early = getattr(handler, EARLY_ANSWER_ATTR, None)
        if guard is None and not schemas and not counts_ip and early is None:
            return None
        json_body = any(schema.location == "json" for schema in schemas)
        kept = getattr(handler, KEPT_DOCUMENT_ATTR, None) if guard is not None else None
        return cls(guard, json_body, schemas, counts_ip, early, kept)

    async def check(self, request: web.Request) -> None:
        """Who is calling comes before what they sent, so an anonymous bad body is 401, not 400;
        then the JSON content type, then the schemas."""
        if self.guard is not None:
            if self.kept is not None:
                collection, match_info_key = self.kept
                request[KEPT_DOCUMENT] = (collection, request.match_info.get(match_info_key, ""))
            await self.guard(request)
        if self.json_body:
            refuse_other_content_types(request)
        if self.schemas:
            await validate(request, self.schemas)


def refuse_other_content_types(request: web.Request) -> None:
    """A route that takes a JSON body refuses a body of another type before validation runs."""
    if request.method not in BODY_METHODS or not request.body_exists:
        return
    content_type = request.content_type
    if content_type == "application/json" or content_type.endswith("+json"):
        return
    raise ApiError(
        ErrorCode.UNSUPPORTED_CONTENT_TYPE,
        f"Expected Content-Type application/json, got {content_type or 'none'}",
        [FieldError("Content-Type", "must be application/json")],
    )


async def validate(request: web.Request, schemas: tuple[ValidationSchema, ...]) -> None:
    """apigami's validation: each schema's location parsed; the result under ``request["data"]``
    (or the schema's ``put_into``), ``{}`` when no schema fills the default key."""
    parser = request.app[APISPEC_PARSER]
    result: Any = None
    for schema in schemas:
        if (
            schema.location == "querystring"
            and not request.query_string
            and _constant_defaults(schema.schema)
        ):
            data = await _kept_load(parser, schema, request, "")
        elif schema.location == "match_info" and _plain_ids(schema.schema, request.match_info):
            data = dict(request.match_info)
        elif (
            PURE_LOAD_ATTR in type(schema.schema).__dict__
            and (raw := await _raw_input(request, schema.location)) is not None
        ):
            data = await _kept_load(parser, schema, request, raw)
        else:
            data = await _load(parser, schema, request)
        if schema.put_into:
            request[schema.put_into] = data
        elif result is None:
            result = data
    request[request.app[APISPEC_VALIDATED_DATA_NAME]] = {} if result is None else result


_ID_FIELDS: WeakKeyDictionary[m.Schema, frozenset[str]] = WeakKeyDictionary()


def _plain_ids(schema: m.Schema, values: Mapping[str, str]) -> bool:
    """Whether ``values`` are exactly the fields of a path schema made of plain
    :func:`~mengchong.http.conventions.hex_id` fields, each a well-formed id: marshmallow's load
    would return them unchanged, so it is skipped (it was a tenth of a pet read's CPU). Anything
    else, a bad id included, goes through the load and its error."""
    names = _ID_FIELDS.get(schema)
    if names is None:
        names = _ID_FIELDS[schema] = _hex_id_fields(schema)
    return bool(names) and values.keys() == names and all(map(is_hex_id, values.values()))


def _hex_id_fields(schema: m.Schema) -> frozenset[str]:
    """The schema's field names if every one is a plain ``hex_id()`` and no hook changes a load;
    empty otherwise."""
    if any(schema._hooks.values()):
        return frozenset()
    for field in schema.fields.values():
        validators = field.validators
        if not (
            type(field) is m.fields.String
            and field.required
            and not field.allow_none
            and field.data_key is None
            and len(validators) == 1
            and isinstance(validators[0], m.validate.Regexp)
            and validators[0].regex.pattern == HEX_ID_PATTERN
        ):
            return frozenset()
    return frozenset(schema.fields)


_CONSTANTS = (int, float, str, bool, type(None))


def _constant_defaults(schema: m.Schema) -> bool:
    """Whether the schema's defaults are plain constants: then loading an empty query string
    gives the same result every time, and it is kept (:func:`_kept_load`)."""
    defaults = (field.load_default for field in schema.fields.values())
    return all(default is m.missing or isinstance(default, _CONSTANTS) for default in defaults)


PURE_LOAD_ATTR = "__mengchong_pure_load__"
PURE_LOADS_KEPT = 256
"""Loads kept per schema (:func:`_kept_load`), the most recently used."""
PURE_BODY_MAX_BYTES = 512
"""A JSON body is kept by its bytes up to this size; a longer one is loaded every time."""
_KEPT_LOADS: WeakKeyDictionary[m.Schema, OrderedDict[Any, dict[str, Any]]] = WeakKeyDictionary()


def pure_load(schema: type[m.Schema]) -> type[m.Schema]:
    """Mark a query string, path or JSON body schema whose load depends on the raw input only
    (no clock, no settings, no database): a successful load of the same raw query string, path
    values or body (its bytes and content type, up to :data:`PURE_BODY_MAX_BYTES`) is kept and
    copied for the next request instead of being run again, when every value it gives is a
    plain constant. A board page's query and path cost a quarter of its CPU to validate, an
    interaction's body a sixth. Not inherited: a subclass that adds fields is marked on its
    own, once its own loads are pure too."""
    setattr(schema, PURE_LOAD_ATTR, True)
    return schema


async def _raw_input(request: web.Request, location: str) -> Any | None:
    """What a pure load of ``location`` depends on: the query string, the path values, or the
    body's content type and bytes; None where a load is not kept (another location, a body
    longer than :data:`PURE_BODY_MAX_BYTES`)."""
    if location == "querystring":
        return request.query_string
    if location == "match_info":
        return tuple(request.match_info.items())
    if location == "json":
        body = await read_body(request) if request.body_exists else b""
        return (request.content_type, body) if len(body) <= PURE_BODY_MAX_BYTES else None
    return None


async def _load(parser: AIOHTTPParser, schema: ValidationSchema, request: web.Request) -> Any:
    """apigami's load of the schema's location, through webargs."""
    return await parser.parse(argmap=schema.schema, req=request, location=schema.location, unknown=None)


async def _kept_load(
    parser: AIOHTTPParser, schema: ValidationSchema, request: web.Request, raw: Any
) -> dict[str, Any]:
    """The schema's load of ``raw`` (the request's query string, path values or content type and
    body, or "" for an empty query string of a schema whose defaults are constants), parsed once
    and copied for each request: what the check-in status, a board page and an interaction
    otherwise ran webargs for each time."""
    kept = _KEPT_LOADS.get(schema.schema)
    if kept is None:
        kept = _KEPT_LOADS[schema.schema] = OrderedDict()
    loaded = kept.get(raw)
    if loaded is None:  # a failing load raises: only successes are kept
        loaded = await _load(parser, schema, request)
        # A copy is shallow: a load with a list or a dict in it would share that with the next.
        if isinstance(loaded, dict) and all(isinstance(value, _CONSTANTS) for value in loaded.values()):
            kept[raw] = loaded
            if len(kept) > PURE_LOADS_KEPT:
                kept.popitem(last=False)
        return dict(loaded)
    kept.move_to_end(raw)
    return dict(loaded)
