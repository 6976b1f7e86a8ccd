"""/openapi.json: every route the app serves is in it with its method and schemas, the document is
valid OpenAPI 3.0, and every operation documents its success envelope, the errors it can answer
(the ErrorEnvelope, referenced) and the X-Request-ID header of every answer."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp_apigami.constants import SCHEMAS_ATTR
from openapi_spec_validator import OpenAPIV30SpecValidator

from mengchong.http.errors import ErrorCode
from mengchong.http.routing import is_unmatched
from support import settings_from

UNDOCUMENTED = ("/static/", "/openapi.json", "/docs")
ERROR_REF = "#/components/schemas/ErrorEnvelope"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


async def document(make_client, tmp_path, **overrides: Any) -> tuple[Any, dict[str, Any]]:
    settings = settings_from({"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}, **overrides)
    client = await make_client(settings)
    return client, await (await client.get("/openapi.json")).json()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.fixture
async def spec(make_client, tmp_path) -> dict[str, Any]:
    return (await document(make_client, tmp_path))[1]


async def test_every_route_is_documented_with_its_schemas(make_client, tmp_path):
    client, spec = await document(make_client, tmp_path)
    checked = 0
    for route in client.server.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or path.startswith(UNDOCUMENTED) or is_unmatched(route.resource):
            continue
        operation = spec["paths"].get(path, {}).get(route.method.lower())
        assert operation is not None, f"{route.method} {path} is missing from /openapi.json"
        for schema in getattr(route.handler, SCHEMAS_ATTR, []):
            if schema.location == "json":
                assert "requestBody" in operation, f"{route.method} {path} has no documented body"
            if schema.location in ("querystring", "match_info"):
                assert operation.get("parameters"), f"{route.method} {path} has no documented parameters"
        checked += 1
    assert checked >= 24  # 3 kernel, 10 accounts, 2 economy, 9 pets


def test_the_document_is_valid_openapi_3_0(spec):
    errors = [
        f"{list(error.path)}: {error.message[:200]}" for error in OpenAPIV30SpecValidator(spec).iter_errors()
    ]
    assert not errors, "\n".join(errors[:20])


def test_nothing_of_swagger_2_and_no_head_operations(spec):
    for method, path, operation in operations(spec):
        assert "produces" not in operation, f"{method} {path}"
        assert "consumes" not in operation, f"{method} {path}"
        assert method != "head", f"{path}: HEAD is answered as GET is, without a body"


def test_every_success_is_the_envelope_with_its_data(spec):
    for method, path, operation in operations(spec):
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert successes, f"{method} {path} documents no success"
        for status, response in successes.items():
            content = response["content"]
            if "application/json" not in content:  # a photo, the metrics text
                assert all(media.startswith(("image/", "text/plain")) for media in content), (method, path)
                continue
            schema = content["application/json"]["schema"]
            assert "$ref" in schema, f"{method} {path} {status}: the envelope is a named schema"
            envelope = resolve(spec, schema)
            assert sorted(envelope["required"]) == ["code", "data", "message"], f"{method} {path} {status}"
            assert envelope["properties"]["code"]["enum"] == [0], f"{method} {path} {status}"
            data = envelope["properties"]["data"]
            if path != "/v1/auth/logout":  # the one route whose data is always null
                assert "$ref" in data or "type" in data, f"{method} {path} {status}: data undocumented"


def test_every_error_is_the_error_envelope_referenced(spec):
    referenced = 0
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        assert "default" in responses, f"{method} {path}: no default (500) response"
        for status, response in responses.items():
            if status.startswith("2"):
                continue
            schema = response["content"]["application/json"]["schema"]
            if (method, path, status) == ("get", "/readyz", "503"):
                assert sorted(resolve(spec, schema)["required"]) == ["code", "data", "message"]
                continue
            assert schema == {"$ref": ERROR_REF}, f"{method} {path} {status}"
            referenced += 1
    assert referenced > 100


def test_every_answer_documents_x_request_id(spec):
    header = spec["components"]["headers"]["RequestId"]
    assert header["required"] is True
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            assert response["headers"]["X-Request-ID"] == {"$ref": "#/components/headers/RequestId"}, (
                f"{method} {path} {status}"
            )


def statuses(spec: dict[str, Any], method: str, path: str) -> set[str]:
    return set(spec["paths"][path][method]["responses"])


def test_errors_follow_from_what_the_route_asks_for(spec):
    # a JSON body: 400 for a bad one, 413 for a big one; a guard: 401; limited: 429; any: 503
    assert {"400", "401", "413", "429", "503"} <= statuses(spec, "post", "/v1/pets/{pet_id}/interact")
    assert {"400", "413", "429"} <= statuses(spec, "post", "/v1/auth/wechat_login")
    assert "401" not in statuses(spec, "post", "/v1/auth/wechat_login")  # no guard
    assert {"401", "429", "503"} <= statuses(spec, "get", "/v1/users/profile")
    assert "400" not in statuses(spec, "get", "/v1/users/profile")  # nothing to validate
    # and the route's own: not yours, missing, already done, refused
    assert {"403", "404", "409", "422"} <= statuses(spec, "post", "/v1/pets")
    for method, path in [
        ("post", "/v1/admin/users/{user_id}/ban"),
        ("post", "/v1/admin/users/{user_id}/points"),
    ]:
        assert {"401", "403", "404"} <= statuses(spec, method, path), path
    # the health routes are exempt from rate limits and touch no backend but readyz's own
    assert statuses(spec, "get", "/healthz") == {"200", "default"}
    assert statuses(spec, "get", "/readyz") == {"200", "503", "default"}
    retry_after = spec["paths"]["/v1/users/profile"]["get"]["responses"]["429"]["headers"]
    assert retry_after["Retry-After"] == {"$ref": "#/components/headers/RetryAfter"}
    challenge = spec["paths"]["/v1/users/profile"]["get"]["responses"]["401"]["headers"]
    assert "WWW-Authenticate" in challenge


async def test_no_429_is_documented_when_rate_limits_are_off(make_client, tmp_path):
    _, spec = await document(make_client, tmp_path, ratelimit={"enabled": False})
    limited = [(m, p) for m, p, operation in operations(spec) if "429" in operation["responses"]]
    assert limited == [("post", "/v1/auth/wechat_login")]  # WeChat's own "too many logins"


def test_request_bodies_are_required_and_the_upload_is_multipart(spec):
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True, f"{method} {path}"
    interact = spec["paths"]["/v1/pets/{pet_id}/interact"]["post"]["requestBody"]
    assert interact["required"] is True
    upload = spec["paths"]["/v1/pets/upload_photo"]["post"]["requestBody"]["content"]
    form = upload["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "JPEG, PNG or WebP",
    }


def test_path_parameters_carry_their_pattern_or_type(spec):
    for method, path, operation in operations(spec):
        for parameter in operation["parameters"]:
            if parameter["in"] != "path":
                continue
            schema = parameter["schema"]
            assert schema.get("pattern") or schema["type"] != "string", f"{method} {path} {parameter['name']}"
    for method in ("get", "post"):
        for path in ("/v1/pets/{pet_id}", "/v1/pets/{pet_id}/interactions", "/v1/pets/{pet_id}/interact"):
            if method not in spec["paths"][path]:
                continue
            (pet_id,) = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == "pet_id"]
            assert pet_id["schema"] == {"type": "string", "pattern": "^[0-9a-f]{32}$"}, path
            assert pet_id["required"] is True


def test_the_error_code_table_is_in_the_description(spec):
    description = spec["info"]["description"]
    for code in ErrorCode:
        assert f"| {int(code)} | {code.status} |" in description, code
