"""The mall's catalog: products read and listed for everyone, created and changed by admins (each
write logged in ``mall_admin_log`` in its own transaction), and the cache of the product list.

The list cache (seed §5.7.1 "read the list from the cache first") lives in the cache port as ONE
hash ``mall:products:pages`` and a generation counter ``mall:products:gen``. A page is kept under
its canonical query string (``category=food&page=1&limit=20``: the parameters given, in that
order, percent-encoded) as the complete response body, so a hit is one HGET answered with the
stored bytes. A request whose raw query string is canonical is answered from the cache before
it is validated (:func:`answer_from_cache`): only a validated query ever stored that string.

A miss reads the generation, then the database, and stores its body only if the generation is
still the one it read (one Lua call). Every change to the catalog, once committed, increments
the generation and then drops the hash (:func:`invalidate_products`): a reader that read the
database before the change and stores after it finds the generation moved and stores nothing,
so a stale page is never served.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote
from weakref import WeakKeyDictionary

from aiohttp import web
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from mengchong import plugin_settings
from mengchong.http.envelope import json_response, ok_body
from mengchong.http.errors import ApiError, ErrorCode, FieldError, not_found
from mengchong.http.pagination import Page
from mengchong.keys import cache_key, clock_key, database_key, item_catalog_key
from mengchong.storage.cache import Cache
from mengchong.storage.database import as_datetime
from mengchong.storage.outage import find_outage
from mengchong_plugins.mall.models import AdminLog, Product
from mengchong_plugins.mall.settings import MallSettings

log = logging.getLogger("mengchong.mall")
T = TypeVar("T")

SUMMARY_FIELDS = (
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
)
"""What the public list shows of a product."""
PRODUCT_FIELDS = (*SUMMARY_FIELDS, "sku", "on_shelf", "sort_order", "created_at", "updated_at")
"""What the detail and the admin routes show of a product."""
ORDERING = ("sort_order", "created_at", "id")

CREATE = "product.create"
UPDATE = "product.update"

# A page read on a miss, kept only if no change came since the generation was read; the hash
# expires ARGV[3] ms after it was first filled (NX: a miss doesn't push the expiry back).
STORE_PAGE_LUA = """
if (redis.call('get', KEYS[1]) or '0') ~= ARGV[1] then
    return 0
end
redis.call('hset', KEYS[2], ARGV[2], ARGV[4])
redis.call('pexpire', KEYS[2], ARGV[3], 'NX')
return 1
"""
_store_scripts: WeakKeyDictionary[Cache, AsyncScript] = WeakKeyDictionary()


def mall_settings(app: web.Application) -> MallSettings:
    return plugin_settings(app, MallSettings)


# --- Views ------------------------------------------------------------------------------------


def _iso(value: datetime | str) -> str:
    return as_datetime(value).isoformat()


def summary_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {field: row[field] for field in SUMMARY_FIELDS}


def product_view(row: Mapping[str, Any]) -> dict[str, Any]:
    view = {field: row[field] for field in PRODUCT_FIELDS}
    view["on_shelf"] = bool(view["on_shelf"])
    view["created_at"] = _iso(view["created_at"])
    view["updated_at"] = _iso(view["updated_at"])
    return view


# --- Reads ------------------------------------------------------------------------------------


async def get_product(app: web.Application, product_id: str) -> dict[str, Any] | None:
    """The product's fields (:data:`PRODUCT_FIELDS`), on the shelf or not; None when unknown."""
    rows = await Product.filter(product_id=product_id).limit(1).values(*PRODUCT_FIELDS)
    return rows[0] if rows else None


async def list_products(
    page: Page,
    *,
    category: str | None = None,
    type: str | None = None,
    on_shelf: bool | None = None,
    fields: tuple[str, ...] = SUMMARY_FIELDS,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the products matching the filters (None: any), in the list's order, and how
    many match in all."""
    filters: dict[str, Any] = {}
    if category is not None:
        filters["category"] = category
    if type is not None:
        filters["type"] = type
    if on_shelf is not None:
        filters["on_shelf"] = on_shelf
    matching = Product.filter(**filters)
    total = await matching.count()
    if page.offset >= total:
        return [], total
    rows = await matching.order_by(*ORDERING).offset(page.offset).limit(page.limit).values(*fields)
    return rows, total


# --- The list cache ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """The parameters of one page of the public list."""

    category: str | None
    type: str | None
    page: int
    limit: int

    @property
    def field(self) -> str:
        """The page's hash field: its canonical query string. Values percent-encoded (so a ``&``
        in a category can't make two queries share a field), absent filters left out."""
        given = [("category", self.category), ("type", self.type)]
        filters = "".join(f"{name}={quote(value, safe='')}&" for name, value in given if value is not None)
        return f"{filters}page={self.page}&limit={self.limit}"

    @property
    def unfiltered_first(self) -> bool:
        return self.category is None and self.type is None and self.page == 1


def cache_keys(cache: Cache) -> tuple[str, str]:
    """The generation counter's key and the pages hash's key."""
    return cache.key("mall", "products", "gen"), cache.key("mall", "products", "pages")


def _store_script(cache: Cache) -> AsyncScript:
    script = _store_scripts.get(cache)
    if script is None:
        script = _store_scripts[cache] = cache.client.register_script(STORE_PAGE_LUA)
    return script


async def unless_unreachable(call: Awaitable[T]) -> T | None:
    """``call``'s result, or None when the cache can't be reached: the list is then read from the
    database (and not kept), so the shop window stays open while Redis is down."""
    try:
        return await call
    except Exception as exc:
        if find_outage(exc) is None:
            raise
        return None


async def read_page(app: web.Application, query: ListQuery) -> bytes | None:
    """The body cached for ``query`` (None: not cached): one HGET."""
    cache = app[cache_key]
    body: bytes | None = await cache.fast("HGET", cache_keys(cache)[1], query.field)
    return body


async def answer_from_cache(request: web.Request) -> web.Response | None:
    """The route's early answer: the page cached under the request's raw query string, if any.
    A raw string that is not some page's canonical one finds nothing, and the request is
    validated as usual."""
    cache = request.app[cache_key]
    try:  # inline, not through unless_unreachable: no second coroutine on every cached page
        body = await cache.fast("HGET", cache_keys(cache)[1], request.query_string)
    except Exception as exc:
        if find_outage(exc) is None:
            raise
        return None  # Redis unreachable: the route reads the database
    return None if body is None else json_response(body)


async def current_generation(app: web.Application) -> str:
    """The catalog's generation: read on a miss before the database is."""
    cache = app[cache_key]
    generation = await cache.client.get(cache_keys(cache)[0])
    return generation.decode() if isinstance(generation, bytes) else str(generation or "0")


async def store_page(app: web.Application, generation: str, query: ListQuery, body: bytes) -> bool:
    """Keep ``body`` as ``query``'s page if the catalog is still at ``generation`` (the one read
    before the database was); False when a change came since, and nothing was kept."""
    cache = app[cache_key]
    ttl_ms = max(1, math.ceil(mall_settings(app).list_cache_seconds * 1000))
    keys, args = list(cache_keys(cache)), [generation, query.field, ttl_ms, body]
    return bool(await _store_script(cache)(keys=keys, args=args))


async def products_page(
    app: web.Application, query: ListQuery, on_miss: Callable[[], Awaitable[None]] | None = None
) -> bytes:
    """The response body of a page of the public list: from the cache, else built and cached;
    ``on_miss`` is awaited before the database is read (the route counts the client IP there)."""
    body = await unless_unreachable(read_page(app, query))
    if body is not None:
        return body
    if on_miss is not None:
        await on_miss()
    generation = await unless_unreachable(current_generation(app))
    page = Page(query.page, query.limit)
    rows, total = await list_products(page, category=query.category, type=query.type, on_shelf=True)
    body = ok_body(page.envelope([summary_view(row) for row in rows], total))
    # Empty pages of made-up categories or far pages are not kept: they would let anyone fill
    # the cache. The empty shop window itself is.
    if generation is not None and (rows or query.unfiltered_first):
        await unless_unreachable(store_page(app, generation, query, body))
    return body


async def invalidate_products(app: web.Application) -> None:
    """After a committed change to the catalog (a product created or changed, stock taken): make
    the next read of the list miss. Never raises: the change is made, and a cache that can't be
    reached now expires within ``list_cache_seconds``."""
    cache = app[cache_key]
    generation, pages = cache_keys(cache)
    try:
        async with cache.client.pipeline(transaction=True) as pipe:
            pipe.incr(generation)
            pipe.delete(pages)
            await pipe.execute()
    except (RedisError, OSError):
        log.exception("could not invalidate the product list cache; it expires on its own")


# --- Admin writes -----------------------------------------------------------------------------


def sku_taken(sku: str) -> ApiError:
    return ApiError(
        ErrorCode.CONFLICT,
        f"A product with sku {sku!r} already exists",
        [FieldError("sku", "already used by another product")],
    )


def check_item(app: web.Application, item_id: str) -> None:
    """400 naming ``item_id`` unless the kernel's item catalog has the item."""
    app[item_catalog_key].require(item_id, "item_id")


async def _log_write(
    connection: BaseDBAsyncClient,
    admin_id: int | None,
    action: str,
    product_id: str,
    changes: dict[str, Any],
    now: datetime,
    operator: str | None,
) -> None:
    await AdminLog.create(
        using_db=connection,
        admin_id=admin_id,
        operator=operator,
        action=action,
        product_id=product_id,
        changes=changes,
        created_at=now,
    )


def _log_line(admin_id: int | None, action: str, product_id: str, changes: dict[str, Any]) -> None:
    log.info(
        "admin %s: %s %s (%s)",
        admin_id if admin_id is not None else "(console)",
        action,
        product_id,
        ", ".join(sorted(changes)),
        extra={"admin_id": admin_id, "action": action, "product_id": product_id, "fields": sorted(changes)},
    )


async def create_product(
    app: web.Application, admin_id: int | None, fields: dict[str, Any], *, operator: str | None = None
) -> dict[str, Any]:
    """A new product from validated ``fields`` (:class:`~.schemas_catalog.ProductCreate`), by an
    admin user or a console ``operator``; 400 for an item not in the catalog, 409 for a sku
    already used. Returns its view."""
    check_item(app, fields["item_id"])
    now = app[clock_key].now()
    values = {**fields, "product_id": uuid.uuid4().hex, "created_at": now, "updated_at": now}
    async with app[database_key].transaction() as connection:
        try:
            await Product.create(using_db=connection, **values)
        except IntegrityError:
            if fields.get("sku") is None:
                raise
            raise sku_taken(fields["sku"]) from None
        await _log_write(connection, admin_id, CREATE, values["product_id"], fields, now, operator)
    _log_line(admin_id, CREATE, values["product_id"], fields)
    await invalidate_products(app)
    return product_view(values)


async def update_product(
    app: web.Application,
    admin_id: int | None,
    product_id: str,
    changes: dict[str, Any],
    *,
    operator: str | None = None,
) -> dict[str, Any]:
    """Set ``changes`` (validated, at least one field) and ``updated_at``; 404 for an unknown
    product, 400 for an item not in the catalog, 409 for a sku already used. Returns its view."""
    if "item_id" in changes:
        check_item(app, changes["item_id"])
    now = app[clock_key].now()
    async with app[database_key].transaction() as connection:
        product = Product.filter(product_id=product_id).using_db(connection)
        try:
            updated = await product.update(**changes, updated_at=now)
        except IntegrityError:
            if changes.get("sku") is None:
                raise
            raise sku_taken(changes["sku"]) from None
        if not updated:
            raise not_found("Product")
        [row] = await product.limit(1).values(*PRODUCT_FIELDS)
        await _log_write(connection, admin_id, UPDATE, product_id, changes, now, operator)
    _log_line(admin_id, UPDATE, product_id, changes)
    await invalidate_products(app)
    return product_view(row)
