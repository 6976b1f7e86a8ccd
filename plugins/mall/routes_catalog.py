"""The catalog routes: the public product list and detail (seed §5.7.1-5.7.2) and the admins'
product API. Each handler validates (its decorators), calls one function of
:mod:`mengchong_plugins.mall.catalog` and answers what it got."""

from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, request_schema, response_schema

from mengchong.accounts.guard import admin_only, current_user, require_admin
from mengchong.http.conventions import AUTH, OPTIONAL_AUTH
from mengchong.http.envelope import json_response, ok
from mengchong.http.errors import ApiError, ErrorCode, not_found
from mengchong.http.pagination import Page
from mengchong.http.schemas import data_field, envelope, errors, link, page
from mengchong.http.validation import answered_early_by, counts_client_ip_on_a_miss
from mengchong.keys import limiter_key
from mengchong_plugins.mall import catalog
from mengchong_plugins.mall import schemas_catalog as schemas

routes = web.RouteTableDef()


@routes.get("/v1/mall/products")
@docs(
    tags=["mall"],
    summary="The products on the shelf, by sort order (public; filter by category or type)",
)
@response_schema(envelope(page(schemas.MallProductSummary)))
@querystring_schema(schemas.ProductsQuery)
@counts_client_ip_on_a_miss
@answered_early_by(catalog.answer_from_cache)
async def list_products(request: web.Request) -> web.Response:
    query = request["querystring"]
    list_query = catalog.ListQuery(query.get("category"), query.get("type"), query["page"], query["limit"])

    async def count_client_ip() -> None:  # only a page not in the cache: it reads the database
        await request.app[limiter_key].check_pending_ip(request)

    return json_response(await catalog.products_page(request.app, list_query, count_client_ip))


async def caller_is_admin(request: web.Request) -> bool:
    """Whether the caller sent the token of an admin. No token, or one that is not valid (any
    more), is an anonymous caller here: the route is public."""
    if "Authorization" not in request.headers:
        return False
    try:
        return (await current_user(request)).is_admin
    except ApiError as exc:
        if exc.code is ErrorCode.UNAUTHORIZED:
            return False
        raise


@routes.get("/v1/mall/products/{product_id}")
@docs(
    tags=["mall"],
    summary="A product on the shelf (public; an admin's token also shows one off the shelf)",
    security=OPTIONAL_AUTH,
    responses=errors(404),
)
@response_schema(envelope(schemas.MallProduct))
@match_info_schema(schemas.ProductPath)
async def get_product(request: web.Request) -> web.Response:
    product = await catalog.get_product(request.app, request["match_info"]["product_id"])
    # The caller is looked up only for a product off the shelf: the common read stays one query.
    if product is None or (not product["on_shelf"] and not await caller_is_admin(request)):
        raise not_found("Product")
    return ok(catalog.product_view(product))


@routes.post("/v1/admin/products")
@docs(
    tags=["admin"],
    summary="Create a product (admins only)",
    security=AUTH,
    responses=errors(403, 409),
    links={
        "read_product": link(
            "get",
            "/v1/mall/products/{product_id}",
            "The product as the mall shows it",
            parameters={"product_id": data_field("product_id")},
        ),
        "update_product": link(
            "put",
            "/v1/admin/products/{product_id}",
            "Change the product",
            parameters={"product_id": data_field("product_id")},
        ),
        "order": link(
            "post", "/v1/mall/orders", "Order the product", body={"product_id": data_field("product_id")}
        ),
    },
)
@response_schema(envelope(schemas.MallProduct), 201)
@request_schema(schemas.ProductCreate)
@admin_only
async def create_product(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    product = await catalog.create_product(request.app, admin.id, request["data"])
    return ok(product, "Product created", status=201)


@routes.put("/v1/admin/products/{product_id}")
@docs(
    tags=["admin"],
    summary="Change any of a product's fields (admins only)",
    security=AUTH,
    responses=errors(403, 404, 409),
)
@response_schema(envelope(schemas.MallProduct))
@match_info_schema(schemas.ProductPath)
@request_schema(schemas.ProductUpdate)
@admin_only
async def update_product(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    product_id = request["match_info"]["product_id"]
    product = await catalog.update_product(request.app, admin.id, product_id, request["data"])
    return ok(product, "Product updated")


@routes.get("/v1/admin/products")
@docs(
    tags=["admin"],
    summary="Every product, on the shelf or not (admins only; never cached)",
    security=AUTH,
    responses=errors(403),
)
@response_schema(envelope(page(schemas.MallProduct)))
@querystring_schema(schemas.AdminProductsQuery)
@admin_only
async def admin_list_products(request: web.Request) -> web.Response:
    query = request["querystring"]
    listed = Page.from_query(query)
    rows, total = await catalog.list_products(
        listed,
        category=query.get("category"),
        type=query.get("type"),
        on_shelf=query.get("on_shelf"),
        fields=catalog.PRODUCT_FIELDS,
    )
    return ok(listed.envelope([catalog.product_view(row) for row in rows], total))
