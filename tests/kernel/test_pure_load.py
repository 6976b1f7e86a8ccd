"""Schemas marked ``pure_load``: a query string, path or small JSON body loaded once is copied
for the next request with the same raw input; a failing one is refused every time; each request
gets its own copy; a load holding a list, or a long body, is loaded every time; what is kept
stays bounded."""

from __future__ import annotations

from typing import Any

import marshmallow as m
import pytest
from aiohttp import web
from aiohttp_apigami import json_schema, match_info_schema, querystring_schema

from mengchong import hookimpl
from mengchong.http.conventions import StrictSchema
from mengchong.http.envelope import ok
from mengchong.http.validation import PURE_BODY_MAX_BYTES, PURE_LOADS_KEPT, pure_load
from support import settings_from

loads: list[dict[str, Any]] = []
JSON = {"Content-Type": "application/json"}


@pure_load
class Query(StrictSchema):
    size = m.fields.Integer(load_default=1, validate=m.validate.Range(min=1, max=9))

    @m.post_load
    def counted(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        loads.append(dict(data))
        return data


@pure_load
class Path(StrictSchema):
    name = m.fields.String(required=True, validate=m.validate.Length(max=8))

    @m.post_load
    def counted(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        loads.append(dict(data))
        return data


@pure_load
class Body(StrictSchema):
    kind = m.fields.String(required=True, validate=m.validate.Length(min=1, max=600))
    tags = m.fields.List(m.fields.String())

    @m.post_load
    def counted(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        loads.append(dict(data))
        return data


class TaggedQuery(Query):
    """A subclass of a pure schema, not marked itself: loaded on every request."""

    tag = m.fields.String(load_default="")


routes = web.RouteTableDef()


@routes.get("/v1/pure-tagged")
@querystring_schema(TaggedQuery)
async def tagged(request: web.Request) -> web.Response:
    return ok({"tag": request["querystring"]["tag"]})


@routes.get("/v1/pure/{name}")
@match_info_schema(Path)
@querystring_schema(Query)
async def echo(request: web.Request) -> web.Response:
    query = request["querystring"]
    answer = {"name": request["match_info"]["name"], "size": query["size"], "touched": "mine" in query}
    query["mine"] = True  # a handler changing its copy must not change the next request's
    return ok(answer)


@routes.post("/v1/pure-body")
@json_schema(Body)
async def take(request: web.Request) -> web.Response:
    body = request["json"]
    answer = {"kind": body["kind"], "tags": list(body.get("tags", [])), "touched": "mine" in body}
    body["mine"] = True  # a handler changing its copy must not change the next request's
    body.get("tags", []).append("mine")
    return ok(answer)


class PurePlugin:
    @hookimpl
    def mengchong_routes(self, app: web.Application) -> web.RouteTableDef:
        return routes


@pytest.fixture
async def client(make_client, tmp_path):
    loads.clear()
    profile = {"database": {"url": f"sqlite://{tmp_path}/pure.sqlite3"}, "files": {"root": str(tmp_path)}}
    return await make_client(settings_from(profile), [("pure", PurePlugin())])


async def test_the_same_raw_input_is_loaded_once_and_each_request_gets_its_own_copy(client):
    for _ in range(3):
        response = await client.get("/v1/pure/cat?size=3")
        assert (await response.json())["data"] == {"name": "cat", "size": 3, "touched": False}
    assert sorted(map(str, loads)) == ["{'name': 'cat'}", "{'size': 3}"]
    other = await client.get("/v1/pure/dog?size=4")
    assert (await other.json())["data"] == {"name": "dog", "size": 4, "touched": False}
    assert len(loads) == 4


async def test_a_failing_input_is_refused_every_time(client):
    for _ in range(2):
        response = await client.get("/v1/pure/cat?size=10")
        assert response.status == 400
        assert (await response.json())["errors"][0]["field"] == "size"
    too_long = await client.get("/v1/pure/" + "x" * 9)
    assert too_long.status == 400


async def test_what_is_kept_is_bounded(client):
    for name in range(PURE_LOADS_KEPT + 1):
        assert (await client.get(f"/v1/pure/n{name}")).status == 200
    loads.clear()
    assert (await client.get("/v1/pure/n0")).status == 200  # the oldest, dropped: loaded again
    assert (await client.get(f"/v1/pure/n{PURE_LOADS_KEPT}")).status == 200  # kept
    assert loads == [{"name": "n0"}]


async def test_a_subclass_not_marked_itself_is_loaded_every_time(client):
    for _ in range(2):
        response = await client.get("/v1/pure-tagged?size=2&tag=x")
        assert (await response.json())["data"] == {"tag": "x"}
    assert loads == [{"size": 2, "tag": "x"}] * 2


async def test_the_same_small_body_is_loaded_once(client):
    for _ in range(3):
        response = await client.post("/v1/pure-body", json={"kind": "petting"})
        assert (await response.json())["data"] == {"kind": "petting", "tags": [], "touched": False}
    assert loads == [{"kind": "petting"}]
    other = await client.post("/v1/pure-body", data=b'{"kind": "petting" }', headers=JSON)
    assert other.status == 200
    assert len(loads) == 2  # other bytes, loaded


async def test_a_bad_body_is_refused_every_time(client):
    for body in (b'{"kind": ""}', b'{"kind": "a", "extra": 1}', b'{"kind": ', b"", b"[]"):
        for _ in range(2):
            response = await client.post("/v1/pure-body", data=body, headers=JSON)
            assert response.status == 400, body
    assert loads == []


async def test_a_load_holding_a_list_or_a_long_body_is_loaded_every_time(client):
    for _ in range(2):
        response = await client.post("/v1/pure-body", json={"kind": "a", "tags": ["x"]})
        assert (await response.json())["data"] == {"kind": "a", "tags": ["x"], "touched": False}
    long_kind = "k" * PURE_BODY_MAX_BYTES
    for _ in range(2):
        response = await client.post("/v1/pure-body", json={"kind": long_kind})
        assert response.status == 200
    assert len(loads) == 4
