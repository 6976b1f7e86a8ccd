"""``mengchong mall import [FILE]``: load a catalog file (TOML, ``[[products]]`` tables) into the
mall; without FILE, the starter catalog shipped with the plugin (``starter_catalog.toml``).

Products are matched by ``sku``: one whose sku is already in the catalog is kept as it is (an
admin's edits survive a second import), a new sku is created. The whole file is checked first with
the admin API's rules (:class:`~mengchong_plugins.mall.schemas_catalog.ProductCreate`, the item
catalog) plus a sku on every product, once per file; on any problem nothing is written and every
problem is reported, naming the product's sku and the field. The inserts are one transaction.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import marshmallow as m
from aiohttp import web
from tortoise.exceptions import IntegrityError

from mengchong.commands import Command
from mengchong.http.errors import flatten_messages
from mengchong.keys import clock_key, database_key, item_catalog_key
from mengchong_plugins.mall.catalog import invalidate_products
from mengchong_plugins.mall.models import Product
from mengchong_plugins.mall.schemas_catalog import ProductCreate

log = logging.getLogger("mengchong.mall")

STARTER_CATALOG = Path(__file__).with_name("starter_catalog.toml")
TOP_LEVEL_KEY = "products"


class ImportRefused(Exception):
    """The file can't be imported; ``problems`` says why, one line each. Nothing was written."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: nothing imported, {len(problems)} problem(s): " + "; ".join(problems))
        self.path = path
        self.problems = problems


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ImportRefused(path, [f"can't read the file ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError:
        raise ImportRefused(path, ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ImportRefused(path, [f"not valid TOML ({exc})"]) from None


def _product_name(index: int, entry: Any) -> str:
    sku = entry.get("sku") if isinstance(entry, dict) else None
    return (
        f"product {sku!r} ({TOP_LEVEL_KEY}[{index}])" if isinstance(sku, str) else f"{TOP_LEVEL_KEY}[{index}]"
    )


def _entry_problems(
    app: web.Application, entry: Any, seen: set[str]
) -> tuple[dict[str, Any] | None, list[str]]:
    """One ``[[products]]`` table: its validated fields, or every problem as ``field: message``
    (the item and the sku are checked too when the rest of the table is wrong)."""
    if not isinstance(entry, dict):
        return None, ["body: must be a table of the product's fields"]
    problems: list[str] = []
    try:
        product: dict[str, Any] = ProductCreate().load(entry)
    except m.ValidationError as exc:
        errors = flatten_messages(exc.messages)
        problems = [f"{error.field}: {error.message}" for error in errors]
        product = {"sku": None, **exc.valid_data} if isinstance(exc.valid_data, dict) else {"sku": None}
        refused = {error.field for error in errors}
    else:
        refused = set()
    item_id = product.get("item_id")
    if item_id is not None and item_id not in app[item_catalog_key]:
        problems.append(f"item_id: unknown item {item_id!r}")
    sku = product["sku"]
    if sku is None and "sku" not in refused:
        problems.append("sku: required in a catalog file (products are matched by it)")
    elif sku in seen:
        problems.append("sku: given to another product of the file too")
    elif sku is not None:
        seen.add(sku)
    return (None, problems) if problems else (product, [])


def read_catalog(app: web.Application, path: Path) -> list[dict[str, Any]]:
    """Every product of the file, validated; :class:`ImportRefused` listing every problem."""
    document = _read_toml(path)
    problems = [
        f"{key}: unknown key (the file has only [[{TOP_LEVEL_KEY}]])"
        for key in document
        if key != TOP_LEVEL_KEY
    ]
    entries = document.get(TOP_LEVEL_KEY, [])
    if not isinstance(entries, list):
        raise ImportRefused(
            path, [*problems, f"{TOP_LEVEL_KEY}: must be an array of tables ([[{TOP_LEVEL_KEY}]])"]
        )
    products: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        product, found = _entry_problems(app, entry, seen)
        if product is not None:
            products.append(product)
        problems.extend(f"{_product_name(index, entry)}: {problem}" for problem in found)
    if problems:
        raise ImportRefused(path, problems)
    return products


async def import_catalog(app: web.Application, path: Path | str = STARTER_CATALOG) -> tuple[int, int]:
    """Import the catalog file at ``path``; returns (products created, products kept)."""
    path = Path(path)
    products = read_catalog(app, path)
    now = app[clock_key].now()
    database = app[database_key]
    with database.activate():
        async with database.transaction() as connection:
            skus = [product["sku"] for product in products]
            existing = set(
                await Product.filter(sku__in=skus).using_db(connection).values_list("sku", flat=True)
            )
            new = [
                Product(**product, product_id=uuid.uuid4().hex, created_at=now, updated_at=now)
                for product in products
                if product["sku"] not in existing
            ]
            try:
                if new:
                    await Product.bulk_create(new, using_db=connection)
            except IntegrityError:
                # Another import (or an admin) added one of these skus since they were read.
                raise ImportRefused(
                    path, ["the catalog changed while importing; run the import again"]
                ) from None
    created, kept = len(new), len(products) - len(new)
    log.info(
        "catalog import from %s: created %s, kept %s",
        path,
        created,
        kept,
        extra={"path": str(path), "products_created": created, "products_kept": kept},
    )
    if created:
        await invalidate_products(app)
    return created, kept


def mall_arguments(parser: argparse.ArgumentParser) -> None:
    """``mengchong mall import [FILE]`` (the mall's one subcommand so far)."""
    actions = parser.add_subparsers(dest="action", required=True)
    load = actions.add_parser("import", help="load a catalog file; skus already there are kept")
    load.add_argument(
        "file",
        nargs="?",
        type=Path,
        default=STARTER_CATALOG,
        help="a catalog TOML file of [[products]] (default: the starter catalog shipped with the mall)",
    )


async def run_mall(app: web.Application, args: argparse.Namespace) -> int:
    """``import``: print ``created N, kept M``; on a refused file, its problems on stderr and
    status 1."""
    try:
        created, kept = await import_catalog(app, getattr(args, "file", None) or STARTER_CATALOG)
    except ImportRefused as exc:
        print(f"mall import: {exc.path}: nothing imported", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"created {created}, kept {kept}")
    return 0


MALL_COMMAND = Command(
    "mall",
    "the mall's catalog: `mall import [FILE]` loads a catalog file (default: the starter catalog)",
    run_mall,
    mall_arguments,
)
