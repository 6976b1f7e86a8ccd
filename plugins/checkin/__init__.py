"""The check-in plugin: a daily check-in with streak rewards, make-up days and a monthly
calendar (seed §5.5). Check-ins are rows of ``checkin_logs`` (one per user and local day in
``app.timezone``); rewards go through the points ledger and the inventory, and
``checkin.completed`` tells the rest. Its settings are the ``[checkin]`` section
(:class:`mengchong_plugins.checkin.settings.CheckinSettings`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl, plugin_settings
from mengchong.backoffice import Figure
from mengchong.clock import local_day
from mengchong.config import ConfigError
from mengchong.economy.items import Item
from mengchong.keys import clock_key, item_catalog_key, settings_key
from mengchong.storage.database import ModelSet
from mengchong_plugins.checkin.kept_status import kept_statuses, kept_statuses_key
from mengchong_plugins.checkin.models import CheckinLog
from mengchong_plugins.checkin.routes import routes
from mengchong_plugins.checkin.settings import CheckinSettings


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "checkin", CheckinSettings


@hookimpl
def mengchong_models() -> ModelSet:
    return ModelSet("checkin", ["mengchong_plugins.checkin.models"], "mengchong_plugins.checkin.migrations")


@hookimpl
def mengchong_items(app: web.Application) -> Iterable[Item]:
    settings = plugin_settings(app, CheckinSettings)
    card = Item(
        settings.makeup_card_item, "card", settings.makeup_card_name, settings.makeup_card_description
    )
    return [card]


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes


@hookimpl
def mengchong_cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        check_bonus_items(app)
        app[kept_statuses_key] = kept_statuses(app)
        yield

    return lifespan(app)


def check_bonus_items(app: web.Application) -> None:
    """A streak bonus naming an item no enabled plugin provides stops the start (it would fail
    every check-in of that streak day)."""
    catalog = app[item_catalog_key]
    for day, bonus in plugin_settings(app, CheckinSettings).bonuses.items():
        if bonus.item_id is not None and bonus.item_id not in catalog:
            known = ", ".join(item.item_id for item in catalog) or "none"
            where = f"checkin.bonuses.{day}.item_id"
            raise ConfigError(f"{where}: {bonus.item_id!r} is not in the item catalog (known: {known})")


async def checkins_today(app: web.Application) -> int:
    """Users who checked in on today's local day (make-up days of earlier days not counted)."""
    today = local_day(app[clock_key].now(), app[settings_key].app.timezone)
    return await CheckinLog.filter(day=today, retroactive=False).count()


@hookimpl
def mengchong_console_figures(app: web.Application) -> Iterable[Figure]:
    return [Figure("Check-ins today", checkins_today)]
