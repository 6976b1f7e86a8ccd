"""/openapi.json: every route the app serves is in it with its method and schemas, the document is
valid OpenAPI 3.0, and every operation documents its success envelope, the errors it can answer
(the ErrorEnvelope, referenced) and the X-Request-ID header of every answer. Every operation has
an id made of its method and path, and the links between operations (what a client, or
Schemathesis' stateful phase, calls next with a success's data) name operations and fields that
exist."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp_apigami.constants import SCHEMAS_ATTR
from openapi_spec_validator import OpenAPIV30SpecValidator

from mengchong.http.errors import ErrorCode
from mengchong.http.openapi import drop_dangling_links
from mengchong.http.routing import is_unmatched
from mengchong.http.schemas import operation_id
from support import settings_from

# Swagger UI, the document itself, and the operator console's HTML pages (not API operations).
UNDOCUMENTED = ("/static/", "/openapi.json", "/docs", "/admin")
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
    every = ["pets", "checkin", "mall", "leaderboard", "notifications", "console"]
    client, spec = await document(make_client, tmp_path, plugins={"enabled": every})
    checked = 0
    served = set()
    for route in client.server.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or path.startswith(UNDOCUMENTED) or is_unmatched(route.resource):
            continue
        served.add((route.method.lower(), path))
        operation = spec["paths"].get(path, {}).get(route.method.lower())
        assert operation is not None, f"{route.method} {path} is missing from /openapi.json"
        for schema in getattr(route.handler, SCHEMAS_ATTR, []):
            if schema.location == "json":
                assert "requestBody" in operation, f"{route.method} {path} has no documented body"
            if schema.location in ("querystring", "match_info"):
                assert operation.get("parameters"), f"{route.method} {path} has no documented parameters"
        checked += 1
    assert checked >= 24  # 3 kernel, 10 accounts, 2 economy, 9 pets
    documented = {(method, path) for method, path, _ in operations(spec)}
    assert documented == served, f"documented, not served: {sorted(documented - served)}"


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
    # WeChat's own "too many logins", a pet's cooldown and daily cap
    assert limited == [("post", "/v1/auth/wechat_login"), ("post", "/v1/pets/{pet_id}/interact")]


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


# --- Operation ids and links -----------------------------------------------------------------

DATA_POINTER = "$response.body#/data/"
CHAINS = [  # (source, target, what the link fills in the target: parameters or body fields)
    ("POST /v1/pets/upload_photo", "POST /v1/pets/generate", {"body.photo_id": "photo_id"}),
    ("POST /v1/pets/upload_photo", "GET /v1/pets/photos/{photo_id}", {"photo_id": "photo_id"}),
    ("POST /v1/pets/generate", "GET /v1/pets/generate/{task_id}", {"task_id": "generation_task_id"}),
    (
        "GET /v1/pets/generate/{task_id}",
        "POST /v1/pets",
        {"body.generation_result_id": "generation_result_id"},
    ),
    ("POST /v1/pets", "GET /v1/pets/{pet_id}", {"pet_id": "pet_id"}),
    ("POST /v1/pets", "POST /v1/pets/{pet_id}/interact", {"pet_id": "pet_id"}),
    ("POST /v1/pets", "GET /v1/pets/{pet_id}/interactions", {"pet_id": "pet_id"}),
    ("POST /v1/admin/products", "GET /v1/mall/products/{product_id}", {"product_id": "product_id"}),
    ("POST /v1/admin/products", "PUT /v1/admin/products/{product_id}", {"product_id": "product_id"}),
    ("POST /v1/admin/products", "POST /v1/mall/orders", {"body.product_id": "product_id"}),
    ("POST /v1/mall/orders", "GET /v1/mall/orders/{order_id}", {"order_id": "order_id"}),
    ("POST /v1/friends/invite", "POST /v1/friends/accept", {"body.code": "code"}),
    ("POST /v1/friends/accept", "GET /v1/friends", {}),
    ("POST /v1/friends/accept", "DELETE /v1/friends/{user_id}", {"user_id": "user_id"}),
    ("POST /v1/checkin", "GET /v1/checkin/status", {}),
]


def by_id(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        operation["operationId"]: (method, path, operation) for method, path, operation in operations(spec)
    }


def success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [(status, r) for status, r in operation["responses"].items() if status.startswith("2")]
    return found


def fills(link: dict[str, Any]) -> dict[str, str]:
    """What a link fills in its target, as CHAINS writes it: parameter name (``body.`` field)
    to the field of the source's data it takes."""
    filled = dict(link.get("parameters", {}))
    filled.update({f"body.{name}": expression for name, expression in link.get("requestBody", {}).items()})
    assert all(expression.startswith(DATA_POINTER) for expression in filled.values()), link
    return {name: expression.removeprefix(DATA_POINTER) for name, expression in filled.items()}


def test_every_operation_has_an_id_from_its_method_and_path(spec):
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    for method, path, operation in operations(spec):
        assert operation["operationId"] == operation_id(method, path)
    assert operation_id("get", "/v1/pets/{pet_id}") == "get_v1_pets_pet_id"


def test_every_link_names_an_operation_and_fields_that_exist(spec):
    operations_by_id = by_id(spec)
    checked = 0
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if "links" not in response:
                continue
            data = resolve(spec, response["content"]["application/json"]["schema"])["properties"]["data"]
            produced = resolve(spec, data)["properties"]
            for name, link in response["links"].items():
                where = f"{method} {path} {status} {name}"
                assert status.startswith("2"), where
                assert link["operationId"] in operations_by_id, where
                _, _, target = operations_by_id[link["operationId"]]
                parameters = {parameter["name"] for parameter in target["parameters"]}
                body = target.get("requestBody", {}).get("content", {}).get("application/json")
                fields = resolve(spec, body["schema"])["properties"] if body else {}
                for filled, field in fills(link).items():
                    assert field in produced, f"{where}: the data has no {field}"
                    if filled.startswith("body."):
                        assert filled.removeprefix("body.") in fields, f"{where}: the body has no {filled}"
                    else:
                        assert filled in parameters, f"{where}: the target has no parameter {filled}"
                checked += 1
    assert checked >= len(CHAINS)


def test_each_chain_is_a_link_on_the_success(spec):
    for source, target, filled in CHAINS:
        method, path = source.split(" ")
        _, response = success(spec["paths"][path][method.lower()])
        target_method, target_path = target.split(" ")
        target_id = operation_id(target_method.lower(), target_path)
        links = response.get("links", {}).values()
        found = [fills(link) for link in links if link["operationId"] == target_id]
        assert found == [filled], f"{source} links to {target} with {found}"


async def test_a_link_to_an_operation_not_served_is_left_out(make_client, tmp_path):
    _, spec = await document(make_client, tmp_path, plugins={"enabled": ["pets"]})
    operations_by_id = by_id(spec)
    assert "post_v1_pets_pet_id_interact" in operations_by_id  # the pets' own links are kept
    _, response = success(spec["paths"]["/v1/pets"]["post"])
    assert set(response["links"]) == {"read_pet", "interact", "interactions"}
    document_with_a_dangling_link = {
        "paths": {
            "/a": {
                "post": {
                    "operationId": "post_a",
                    "responses": {
                        "201": {
                            "links": {"gone": {"operationId": "get_b"}, "self": {"operationId": "post_a"}}
                        },
                        "202": {"links": {"gone": {"operationId": "get_b"}}},
                    },
                }
            }
        }
    }
    drop_dangling_links(document_with_a_dangling_link)
    responses = document_with_a_dangling_link["paths"]["/a"]["post"]["responses"]
    assert responses == {"201": {"links": {"self": {"operationId": "post_a"}}}, "202": {}}


def test_two_operations_with_one_id_are_refused():
    twins = {
        "paths": {"/a_b": {"get": {"operationId": "get_a_b"}}, "/a/b": {"get": {"operationId": "get_a_b"}}}
    }
    with pytest.raises(ValueError, match="get_a_b"):
        drop_dangling_links(twins)
