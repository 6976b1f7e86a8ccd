"""HTTP conventions on both runtime profiles: envelope, errors, validation, request ids,
health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import re

import pytest

from support import settings_from


@pytest.fixture
async def client(profile, make_client, example_plugin_path):
    import mengchong_example

    return await make_client(settings_from(profile), [("example", mengchong_example)])


async def test_healthz_answers_in_the_envelope_with_a_request_id(client):
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"code": 0, "message": "Success", "data": {"status": "ok"}}
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


async def test_a_sane_client_request_id_is_kept_and_a_hostile_one_replaced(client):
    kept = await client.get("/healthz", headers={"X-Request-ID": "mini-abc.123"})
    assert kept.headers["X-Request-ID"] == "mini-abc.123"
    replaced = await client.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert replaced.headers["X-Request-ID"] != "x" * 65


async def test_readyz_reports_every_backend(client, profile):
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200, body
    backends = body["data"]["backends"]
    assert set(backends) == {"database", "cache", "documents", "queue", "files"}
    assert all(backend["ok"] for backend in backends.values())
    expected = {
        "embedded": {"database": "sqlite", "cache": "memory", "queue": "memory", "documents": "sql"},
        "services": {"database": "postgres", "cache": "redis", "queue": "rabbitmq", "documents": "sql"},
    }[profile["profile"]]
    assert {name: backends[name]["adapter"] for name in expected} == expected


async def test_unknown_routes_and_methods_get_the_envelope(client):
    missing = await client.get("/v1/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["code"] == 40401
    assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["X-Request-ID"])
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["code"] == 40501
    assert wrong_method.headers["Allow"] == "GET, HEAD"
    two_routes = await client.put("/v1/example/notes")  # one path, two routes: GET and POST
    assert two_routes.status == 405
    assert two_routes.headers["Allow"] == "GET, HEAD, POST"
    assert (await client.head("/healthz")).status == 200


async def test_every_route_answers_through_the_pipeline(client):
    """Each route the app serves (plugins', the kernel's, the OpenAPI document, Swagger UI and
    its static files, the catch-all) answers with a request id, and every error in the envelope.
    (A static file that is missing is aiohttp's bare 404, decided as the file is sent.)"""
    seen = 0
    for route in client.server.app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("prefix", "") + "/index.css"
        if "formatter" in info:
            path = re.sub(r"\{[^}]+\}", "x", info["formatter"])
        method = "GET" if route.method == "*" else route.method
        response = await client.request(method, path)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers.get("X-Request-ID", "")), (method, path)
        if response.status >= 400:
            assert isinstance((await response.json())["code"], int), (method, path)
        seen += 1
    assert seen >= 30


async def test_a_created_resource_is_201(client):
    response = await client.post("/v1/example/notes", json={"text": "hi", "stars": 3})
    body = await response.json()
    assert response.status == 201, body
    assert body["code"] == 0
    assert body["data"]["text"] == "hi"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "x" * 51}, "text"),
        ({"text": "ok", "stars": 9}, "stars"),
        ({"text": "ok", "stars": "many"}, "stars"),
        ({"text": 5}, "text"),
        ({"text": "ok", "extra": 1}, "extra"),
        ([1, 2], "body"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(client, payload, field):
    response = await client.post("/v1/example/notes", json=payload)
    body = await response.json()
    assert response.status == 400, body
    assert body["code"] == 40001
    assert field in [error["field"] for error in body["errors"]]


async def test_malformed_json_is_400(client):
    response = await client.post(
        "/v1/example/notes", data=b'{"text": "unterminated', headers={"Content-Type": "application/json"}
    )
    body = await response.json()
    assert response.status == 400
    assert body["code"] == 40002


async def test_a_wrong_content_type_is_400(client):
    response = await client.post("/v1/example/notes", data=b"text=hi", headers={"Content-Type": "text/plain"})
    body = await response.json()
    assert response.status == 400
    assert body["code"] == 40003
    assert body["errors"][0]["field"] == "Content-Type"


async def test_an_oversized_body_is_413(client):
    response = await client.post(
        "/v1/example/notes",
        data=b'{"text": "' + b"x" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["code"] == 41301


async def test_an_unexpected_error_is_a_bare_500(client):
    response = await client.get("/v1/example/boom")
    body = await response.json()
    assert response.status == 500
    assert body == {"code": 50001, "message": "Internal server error"}
    assert "SELECT" not in await response.text()


async def test_a_domain_error_keeps_its_code(client):
    response = await client.get("/v1/example/teapot")
    assert response.status == 409
    assert await response.json() == {"code": 40901, "message": "already brewed"}


@pytest.mark.parametrize(
    ("query", "field"), [("page=0", "page"), ("limit=101", "limit"), ("limit=x", "limit")]
)
async def test_pagination_bounds(client, query, field):
    response = await client.get(f"/v1/example/notes?{query}")
    body = await response.json()
    assert response.status == 400
    assert body["errors"][0]["field"] == field


async def test_an_empty_query_gets_the_defaults_every_time(client):
    # The load of an empty query string is kept after the first request (validation.py):
    # each request must still get its own, complete copy.
    for n in range(12):
        await client.post("/v1/example/notes", json={"text": f"n{n}"})
    for _ in range(3):
        data = (await (await client.get("/v1/example/notes")).json())["data"]
        assert (data["page"], data["limit"], len(data["items"]), data["total"]) == (1, 10, 10, 12)
    data = (await (await client.get("/v1/example/notes?page=2")).json())["data"]
    assert (data["page"], data["limit"], len(data["items"])) == (2, 10, 2)


async def test_pagination_shape(client):
    for n in range(3):
        await client.post("/v1/example/notes", json={"text": f"n{n}"})
    body = await (await client.get("/v1/example/notes?page=2&limit=2")).json()
    assert body["data"] == {
        "items": [{"id": 3, "text": "n2"}],
        "total": 3,
        "page": 2,
        "limit": 2,
        "totalPages": 2,
    }


async def test_metrics_count_requests_per_route_template(client):
    await client.get("/healthz")
    await client.get("/v1/nothing-here")
    text = await (await client.get("/metrics")).text()
    assert 'mengchong_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}' in text
    assert 'route="unmatched",status="404"' in text


async def test_openapi_document_lists_routes_schemas_and_error_codes(client):
    response = await client.get("/openapi.json")
    spec = await response.json()
    assert spec["openapi"].startswith("3.")
    assert {"/healthz", "/v1/example/notes"} <= set(spec["paths"])
    body_schema = spec["paths"]["/v1/example/notes"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert body_schema
    assert "40001" in spec["info"]["description"]
    assert 42901 in spec["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]["enum"]
    docs = await client.get("/docs")
    assert docs.status == 200
    assert "swagger" in (await docs.text()).lower()
