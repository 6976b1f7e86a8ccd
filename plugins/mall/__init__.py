"""The mall plugin: a points mall (seed §5.7). Products are rows of ``mall_products``, each
granting one item of the kernel's item catalog per unit; an order spends points through the
ledger, takes stock by a conditional update, grants the items to the inventory and records
``order.created``, all in one transaction, once per ``Idempotency-Key``. Admins
(``auth.admin_openids``) manage the catalog; ``mengchong mall import [FILE]`` loads a catalog file
(the plugin ships a starter one); the operator console shows its products and orders. Its
settings are the ``[mall]`` section (:class:`mengchong_plugins.mall.settings.MallSettings`).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl
from mengchong.backoffice import Figure, Section
from mengchong.commands import Command
from mengchong.storage.database import ModelSet
from mengchong_plugins.mall import backoffice, importer, routes_catalog, routes_orders
from mengchong_plugins.mall.settings import MallSettings


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "mall", MallSettings


@hookimpl
def mengchong_models() -> ModelSet:
    return ModelSet("mall", ["mengchong_plugins.mall.models"], "mengchong_plugins.mall.migrations")


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return [*routes_catalog.routes, *routes_orders.routes]


@hookimpl
def mengchong_commands() -> Iterable[Command]:
    return [importer.MALL_COMMAND]


@hookimpl
def mengchong_console_sections(app: web.Application) -> Iterable[Section]:
    return backoffice.sections(app)


@hookimpl
def mengchong_console_figures(app: web.Application) -> Iterable[Figure]:
    return [Figure("Orders today", backoffice.orders_today)]
