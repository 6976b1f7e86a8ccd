"""Marshmallow schemas of what the API answers, for the OpenAPI document: the success envelope
around a route's ``data``, the list page, the error responses a route declares, and the links
from its success to the operations a client can call next with what it answered.

A route documents its success with ``@response_schema(envelope(DataSchema))``, the errors of
its own domain with ``@docs(responses=errors(404, 409))`` and its links with
``@docs(links={"read_pet": link("get", "/v1/pets/{pet_id}", ..., parameters={"pet_id":
data_field("pet_id")})})``; the errors every route of its kind can answer (bad input, no token,
rate limit, ...) are added by :mod:`mengchong.http.openapi` from what the route's decorators ask
for, which also puts the links on the success response and gives every operation its
:func:`operation_id`.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as m

ERROR_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "A field is missing or invalid (`errors` names it), or the request can't be carried out",
    401: "No token, or an invalid, expired or revoked one",
    403: "Authenticated, but the resource is not yours (or the route is for admins)",
    404: "No such resource",
    409: "Already done",
    413: "The body is over the size limit",
    422: "Well-formed but refused: not enough points or items, blocked words, a limit reached",
    429: "Too many requests; see Retry-After",
    502: "The WeChat server API failed or timed out",
    503: "A backend is unavailable",
}


def errors(*statuses: int) -> dict[str, dict[str, Any]]:
    """Error responses for ``@docs(responses=...)``: the error envelope under each status."""
    return {str(status): error_response(status) for status in statuses}


def error_response(status: int | str, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or ERROR_DESCRIPTIONS.get(int(status), "Error"),
        "content": {"application/json": {"schema": {"$ref": ERROR_ENVELOPE_REF}}},
    }


def operation_id(method: str, path: str) -> str:
    """The ``operationId`` of the route ``method path`` in /openapi.json: both in snake case,
    ``get_v1_pets_pet_id`` for ``GET /v1/pets/{pet_id}``; stable as long as the route is."""
    return re.sub(r"[^0-9a-z]+", "_", f"{method} {path}".lower()).strip("_")


def data_field(name: str) -> str:
    """The runtime expression of a field of the success envelope's ``data``."""
    return f"$response.body#/data/{name}"


def link(
    method: str,
    path: str,
    description: str,
    *,
    parameters: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An OpenAPI link for ``@docs(links={name: link(...)})``: the route's success answer feeds
    the operation ``method path``, its ``parameters`` (by name) and the fields of its JSON
    ``body`` given as runtime expressions (:func:`data_field`). A link to an operation that is
    not served (its plugin is off) is left out of the document."""
    target: dict[str, Any] = {"operationId": operation_id(method, path), "description": description}
    if parameters:
        target["parameters"] = parameters
    if body:
        target["requestBody"] = body
    return target


class Envelope(m.Schema):
    code = m.fields.Integer(required=True, validate=m.validate.OneOf([0]))
    message = m.fields.String(required=True)


_envelopes: dict[str, type[m.Schema]] = {}
_pages: dict[str, type[m.Schema]] = {}


def envelope(data: type[m.Schema] | m.fields.Field | None, name: str | None = None) -> type[m.Schema]:
    """``{"code": 0, "message", "data"}`` with ``data`` as the schema (or field) given; ``None``
    for a route whose ``data`` is always null. Named ``<Data>Envelope`` in the document."""
    if data is None:
        field: m.fields.Field = m.fields.Raw(
            required=True, allow_none=True, metadata={"description": "always null", "enum": [None]}
        )
        name = name or "Empty"
    elif isinstance(data, m.fields.Field):
        field = data
        assert name, "a field needs a name"
    else:
        field = m.fields.Nested(data, required=True)
        name = name or data.__name__
    key = f"{name}Envelope"
    if key not in _envelopes:
        _envelopes[key] = type(key, (Envelope,), {"data": field})
    return _envelopes[key]


def page(item: type[m.Schema]) -> type[m.Schema]:
    """The list body of seed §4.2 with ``items`` of the schema given, named ``<Item>Page``."""
    key = f"{item.__name__}Page"
    if key in _pages:
        return _pages[key]
    fields = {
        "items": m.fields.List(m.fields.Nested(item), required=True),
        "total": m.fields.Integer(required=True, validate=m.validate.Range(min=0)),
        "page": m.fields.Integer(required=True, validate=m.validate.Range(min=1)),
        "limit": m.fields.Integer(required=True, validate=m.validate.Range(min=1)),
        "totalPages": m.fields.Integer(required=True, validate=m.validate.Range(min=0)),
    }
    _pages[key] = type(key, (m.Schema,), fields)
    return _pages[key]


# --- The health routes' answers ------------------------------------------------------------


class Health(m.Schema):
    status = m.fields.String(required=True, validate=m.validate.OneOf(["ok"]))


class BackendCheck(m.Schema):
    ok = m.fields.Boolean(required=True)
    adapter = m.fields.String(required=True)
    ms = m.fields.Float(metadata={"description": "how long the check took, when it passed"})
    error = m.fields.String(metadata={"description": "why it failed"})


class Readiness(m.Schema):
    status = m.fields.String(required=True, validate=m.validate.OneOf(["ready", "not ready"]))
    backends = m.fields.Dict(keys=m.fields.String(), values=m.fields.Nested(BackendCheck), required=True)


class NotReady(m.Schema):
    code = m.fields.Integer(required=True, validate=m.validate.OneOf([50301]))
    message = m.fields.String(required=True)
    data = m.fields.Nested(Readiness, required=True)


METRICS_CONTENT = {
    "description": "Prometheus text exposition format",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
