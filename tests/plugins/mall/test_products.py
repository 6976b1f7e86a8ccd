"""The public catalog on both profiles: the product list (on the shelf only, in order, filtered,
paginated, bad parameters refused) and a product's detail (404 off the shelf but for an admin),
and the list's cache: a hit is served from the cache, every admin change is visible on the next
read, a page computed before a change and stored after it is never served, and the cache expires."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mall_support import TOY, Auth, insert_product
from mengchong.http.envelope import ok_body
from mengchong.http.pagination import Page
from mengchong.keys import cache_key, database_key
from mengchong_plugins.mall import catalog
from mengchong_plugins.mall.models import Product

SUMMARY_KEYS = {
    "product_id",
    "name",
    "description",
    "image_url",
    "type",
    "category",
    "points_cost",
    "stock_quantity",
    "per_user_limit",
    "item_id",
}
DETAIL_KEYS = SUMMARY_KEYS | {"sku", "on_shelf", "sort_order", "created_at", "updated_at"}
MISSING = "0" * 32


async def products(client: TestClient, query: str = "") -> tuple[int, dict[str, Any]]:
    """``GET /v1/mall/products?<query>``, anonymously: the status and the envelope."""
    response = await client.get(f"/v1/mall/products{'?' if query else ''}{query}")
    return response.status, await response.json()


async def listed(client: TestClient, query: str = "") -> dict[str, Any]:
    status, body = await products(client, query)
    assert (status, body["code"]) == (200, 0), body
    return body["data"]


async def names(client: TestClient, query: str = "") -> list[str]:
    return [item["name"] for item in (await listed(client, query))["items"]]


async def detail(client: TestClient, product_id: str, auth: Auth | None = None) -> tuple[int, dict[str, Any]]:
    response = await client.get(f"/v1/mall/products/{product_id}", headers=auth or {})
    return response.status, await response.json()


async def change_directly(client: TestClient, product_id: str, **fields: Any) -> None:
    """Change a product in the database behind the API's back (no cache invalidation)."""
    database = client.server.app[database_key]
    with database.activate():
        assert await Product.filter(product_id=product_id).update(**fields) == 1


async def put(client: TestClient, auth: Auth, product_id: str, **fields: Any) -> dict[str, Any]:
    response = await client.put(f"/v1/admin/products/{product_id}", json=fields, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    return body["data"]


def fields_of(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors", [])}


# --- The list ---------------------------------------------------------------------------------


async def test_the_list_shows_products_on_the_shelf_by_sort_order_then_age(client):
    await insert_product(client, name="Second", sort_order=5)
    await insert_product(client, name="Hidden", sort_order=0, on_shelf=False)
    await insert_product(client, name="First", sort_order=-3)
    await insert_product(client, name="Third", sort_order=5)  # same order, created later
    ball = await insert_product(
        client,
        name="Ball",
        sort_order=9,
        type="virtual_pet_toy",
        category="toy",
        item_id=TOY,
        points_cost=20,
        stock_quantity=7,
        per_user_limit=2,
        image_url="https://img.example/ball.png",
    )

    data = await listed(client)
    assert [item["name"] for item in data["items"]] == ["First", "Second", "Third", "Ball"]
    assert (data["total"], data["page"], data["limit"], data["totalPages"]) == (4, 1, 10, 1)
    assert all(set(item) == SUMMARY_KEYS for item in data["items"])
    assert data["items"][3] == {key: ball[key] for key in SUMMARY_KEYS}


async def test_the_list_filters_by_category_and_by_type(client):
    await insert_product(client, name="Fish", category="food", type="virtual_pet_food")
    await insert_product(client, name="Ball", category="toy", type="virtual_pet_toy", item_id=TOY)
    await insert_product(client, name="Treat", category="toy", type="virtual_pet_food")
    await insert_product(client, name="Off toy", category="toy", type="virtual_pet_toy", on_shelf=False)

    assert await names(client, "category=toy") == ["Ball", "Treat"]
    assert await names(client, "type=virtual_pet_food") == ["Fish", "Treat"]
    assert await names(client, "category=toy&type=virtual_pet_toy") == ["Ball"]
    assert await names(client, "category=nothing") == []
    assert (await listed(client, "category=toy"))["total"] == 2


async def test_pagination_totals_and_total_pages(client):
    for number in range(21):
        await insert_product(client, name=f"P{number:02}", sort_order=number)
    await insert_product(client, name="Off", on_shelf=False)

    first = await listed(client)
    assert (len(first["items"]), first["total"], first["totalPages"]) == (10, 21, 3)
    third = await listed(client, "page=3")
    assert [item["name"] for item in third["items"]] == ["P20"]
    assert (third["page"], third["total"], third["totalPages"]) == (3, 21, 3)
    beyond = await listed(client, "page=4")
    assert (beyond["items"], beyond["total"], beyond["totalPages"]) == ([], 21, 3)
    exact = await listed(client, "limit=7&page=3")
    assert ([item["name"] for item in exact["items"]], exact["totalPages"]) == (
        ["P14", "P15", "P16", "P17", "P18", "P19", "P20"],
        3,
    )
    at_most = await listed(client, "limit=100")
    assert (len(at_most["items"]), at_most["limit"], at_most["totalPages"]) == (21, 100, 1)
    one = await listed(client, "limit=1&page=21")
    assert ([item["name"] for item in one["items"]], one["totalPages"]) == (["P20"], 21)


async def test_an_empty_catalog_is_an_empty_page(client):
    assert await listed(client) == {"items": [], "total": 0, "page": 1, "limit": 10, "totalPages": 0}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("color=red", "color"),
        ("category=", "category"),
        (f"category={'c' * 33}", "category"),
        ("type=", "type"),
    ],
)
async def test_bad_list_parameters_are_400_naming_the_parameter(client, query, field):
    status, body = await products(client, query)
    assert (status, body["code"]) == (400, 40001), body
    assert fields_of(body) == {field}


async def test_list_parameters_exactly_at_their_bounds_are_accepted(client):
    await insert_product(client, category="c" * 32, type="t" * 32)
    assert len(await names(client, "limit=1&page=1")) == 1
    assert len(await names(client, f"limit=100&category={'c' * 32}&type={'t' * 32}")) == 1


# --- The detail -------------------------------------------------------------------------------


async def test_a_product_s_detail_has_every_field(client):
    product = await insert_product(client, sku="fish-1", per_user_limit=3, sort_order=4)
    status, body = await detail(client, product["product_id"])
    assert (status, body["code"]) == (200, 0), body
    data = body["data"]
    assert set(data) == DETAIL_KEYS
    assert {key: data[key] for key in SUMMARY_KEYS} == {key: product[key] for key in SUMMARY_KEYS}
    assert (data["sku"], data["on_shelf"], data["sort_order"]) == ("fish-1", True, 4)
    assert data["created_at"] == product["created_at"].isoformat()
    assert data["updated_at"] == product["updated_at"].isoformat()


async def test_detail_of_an_unknown_product_is_404(client, alice):
    await insert_product(client)
    for auth in (None, alice[1]):
        status, body = await detail(client, MISSING, auth)
        assert (status, body["code"]) == (404, 40401), body


async def test_a_product_off_the_shelf_is_404_but_for_an_admin(client, admin, alice, bob):
    hidden = await insert_product(client, on_shelf=False)
    for auth in (None, alice[1], bob[1], {"Authorization": "Bearer not-a-token"}):
        status, body = await detail(client, hidden["product_id"], auth)
        assert (status, body["code"]) == (404, 40401), (auth, body)
    status, body = await detail(client, hidden["product_id"], admin[1])
    assert (status, body["data"]["on_shelf"]) == (200, False), body


@pytest.mark.parametrize("product_id", ["abc", "0" * 31, "0" * 33, "A" * 32, "g" * 32])
async def test_a_malformed_product_id_is_400_naming_it(client, product_id):
    status, body = await detail(client, product_id)
    assert (status, body["code"]) == (400, 40001), body
    assert fields_of(body) == {"product_id"}


# --- The cache --------------------------------------------------------------------------------


async def test_a_second_read_is_served_from_the_cache(client):
    fish = await insert_product(client, name="Fish")
    first = await client.get("/v1/mall/products")
    first_bytes = await first.read()
    await change_directly(client, fish["product_id"], name="Changed behind the cache")

    second = await client.get("/v1/mall/products")
    assert await second.read() == first_bytes
    assert second.content_type == "application/json"
    assert await names(client) == ["Fish"]
    # Each page is its own entry: another page of the same list is read from the database.
    assert await names(client, "limit=5") == ["Changed behind the cache"]
    # The detail is not cached.
    assert (await detail(client, fish["product_id"]))[1]["data"]["name"] == "Changed behind the cache"


async def test_an_admin_change_is_visible_on_the_very_next_read(client, admin):
    _, auth = admin
    fish = await insert_product(client, name="Fish", points_cost=10)
    ball = await insert_product(client, name="Ball", item_id=TOY, category="toy")
    assert await names(client) == ["Fish", "Ball"]
    assert await names(client, "category=toy") == ["Ball"]

    await put(client, auth, fish["product_id"], points_cost=12)
    assert [item["points_cost"] for item in (await listed(client))["items"]] == [12, 10]
    await put(client, auth, ball["product_id"], on_shelf=False)
    assert await names(client) == ["Fish"]
    assert await names(client, "category=toy") == []

    response = await client.post(
        "/v1/admin/products",
        json={
            "name": "Cake",
            "type": "virtual_pet_food",
            "category": "food",
            "points_cost": 30,
            "item_id": "food.cake",
        },
        headers=auth,
    )
    assert response.status == 201, await response.json()
    assert await names(client) == ["Fish", "Cake"]


async def test_a_page_computed_before_a_change_and_stored_after_it_is_never_served(client, admin):
    _, auth = admin
    app = client.server.app
    fish = await insert_product(client, name="Fish")
    query = catalog.ListQuery(None, None, 1, 10)

    # A reader misses, reads the generation, then reads the database...
    assert await catalog.read_page(app, query) is None
    generation = await catalog.current_generation(app)
    page = Page(1, 10)
    with app[database_key].activate():
        rows, total = await catalog.list_products(page, on_shelf=True)
    stale_body = ok_body(page.envelope([catalog.summary_view(row) for row in rows], total))
    # ...an admin's change is committed (and the cache invalidated)...
    await put(client, auth, fish["product_id"], name="Renamed")
    # ...and only then does the slow reader store what it read, with the generation it read.
    assert not await catalog.store_page(app, generation, query, stale_body)

    assert await names(client) == ["Renamed"]
    assert await names(client) == ["Renamed"]  # a hit now: the fresh page was cached
    # With the current generation the same body would be kept and served: the generation is
    # what keeps the stale one out.
    current = await catalog.current_generation(app)
    assert current != generation
    assert await catalog.store_page(app, current, query, stale_body)
    assert await names(client) == ["Fish"]


async def test_reads_racing_changes_end_on_the_last_change(client, admin):
    _, auth = admin
    fish = await insert_product(client, name="Fish", points_cost=1)
    for cost in range(2, 7):
        reads = [listed(client) for _ in range(15)]
        *pages, _ = await asyncio.gather(*reads, put(client, auth, fish["product_id"], points_cost=cost))
        assert {page["items"][0]["points_cost"] for page in pages} <= {cost - 1, cost}
        assert [item["points_cost"] for item in (await listed(client))["items"]] == [cost]


async def test_empty_pages_of_unknown_filters_are_not_cached(client):
    await insert_product(client, category="food")
    app = client.server.app
    cache = app[cache_key]
    _, pages = catalog.cache_keys(cache)
    for number in range(5):
        assert await names(client, f"category=made-up-{number}") == []
    assert await names(client, "page=9") == []
    assert await cache.client.hkeys(pages) == []
    await names(client, "category=food")
    await names(client)
    assert sorted(await cache.client.hkeys(pages)) == [b"category=food&page=1&limit=10", b"page=1&limit=10"]


async def test_filters_are_kept_apart_in_the_cache(client):
    # "a:b" with no type and "a" with type "b:" would share a field if the values were not encoded.
    await insert_product(client, name="One", category="a:b", type="x")
    await insert_product(client, name="Two", category="a", type="b:")
    assert await names(client, "category=a%3Ab") == ["One"]
    assert await names(client, "category=a&type=b%3A") == ["Two"]
    assert await names(client, "category=a%3Ab") == ["One"]


@pytest.mark.parametrize("mall_overrides", [{"list_cache_seconds": 0.5}])
async def test_the_cached_list_expires_after_list_cache_seconds(client):
    fish = await insert_product(client, name="Fish")
    assert await names(client) == ["Fish"]
    cache = client.server.app[cache_key]
    ttl = await cache.client.pttl(catalog.cache_keys(cache)[1])
    assert 0 < ttl <= 500
    await change_directly(client, fish["product_id"], name="Changed")
    assert await names(client) == ["Fish"]
    await asyncio.sleep(0.6)
    assert await names(client) == ["Changed"]


async def test_every_spelling_of_a_query_gets_the_page_its_canonical_spelling_gets(client):
    # The canonical spelling is answered from the cache before validation; the others are
    # validated and read the same field. Both must agree, for filters that need encoding too.
    await insert_product(client, name="Cake", category="甜点&零食", type="x y")
    await insert_product(client, name="Fish", category="food")
    canonical = "category=%E7%94%9C%E7%82%B9%26%E9%9B%B6%E9%A3%9F&type=x%20y&page=1&limit=10"
    others = [
        "type=x%20y&category=%E7%94%9C%E7%82%B9%26%E9%9B%B6%E9%A3%9F",
        "category=%e7%94%9c%e7%82%b9%26%e9%9b%b6%e9%a3%9f&type=x+y&limit=10&page=1",
    ]
    for query in [canonical, *others, canonical]:
        assert await names(client, query) == ["Cake"], query
    pages = catalog.cache_keys(client.server.app[cache_key])[1]
    assert await client.server.app[cache_key].client.hkeys(pages) == [canonical.encode()]


async def test_a_query_the_cache_never_stored_is_still_validated(client):
    await insert_product(client, name="Fish")
    assert await names(client, "page=1&limit=10") == ["Fish"]  # cached now
    for query, field in [("page=1&limit=10&extra=1", "extra"), ("page=0&limit=10", "page")]:
        response = await client.get(f"/v1/mall/products?{query}")
        body = await response.json()
        assert response.status == 400, body
        assert body["errors"][0]["field"] == field
