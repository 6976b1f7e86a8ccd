"""Every route the app serves is in /openapi.json with its method, and every route that takes
a JSON body or a query documents its schema there."""

from __future__ import annotations

from aiohttp_apigami.constants import SCHEMAS_ATTR

from mengchong.http.routing import is_unmatched
from support import settings_from

UNDOCUMENTED = ("/static/", "/openapi.json", "/docs")


async def test_every_route_is_documented_with_its_schemas(make_client, tmp_path):
    client = await make_client(settings_from({"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}}))
    spec = await (await client.get("/openapi.json")).json()
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
