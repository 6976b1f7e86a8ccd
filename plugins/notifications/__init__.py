"""The notifications plugin: WeChat subscribe messages (seed §5.8) for check-in rewards, completed
orders, hungry pets and the daily check-in reminder, sent only with the user's consent (grants
from ``wx.requestSubscribeMessage``) and preferences, through the ``notifications.send`` queue,
each once. Its settings are the ``[notifications]`` section
(:class:`mengchong_plugins.notifications.settings.NotificationsSettings`); in ``wechat.mode =
"mock"`` it records what it would send and sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl, plugin_settings
from mengchong.backoffice import Section
from mengchong.events import Subscriber
from mengchong.keys import plugins_key
from mengchong.storage.database import ModelSet
from mengchong.storage.queue import Message
from mengchong.tasks import BackgroundTask, Consumer
from mengchong_plugins.notifications import backoffice, subscribers
from mengchong_plugins.notifications.delivery import QUEUE, deliver
from mengchong_plugins.notifications.reminder import KIND as REMINDER
from mengchong_plugins.notifications.reminder import Reminder
from mengchong_plugins.notifications.retention import run_prune
from mengchong_plugins.notifications.routes import routes
from mengchong_plugins.notifications.settings import NotificationsSettings


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "notifications", NotificationsSettings


@hookimpl
def mengchong_models() -> ModelSet:
    return ModelSet(
        "notifications",
        ["mengchong_plugins.notifications.models"],
        "mengchong_plugins.notifications.migrations",
    )


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return routes


@hookimpl
def mengchong_subscribers(app: web.Application) -> Iterable[Subscriber]:
    return subscribers.subscribers(app)


@hookimpl
def mengchong_consumers(app: web.Application) -> Iterable[Consumer]:
    async def handle(message: Message) -> None:
        await deliver(app, message)

    return [Consumer(QUEUE, handle)]


@hookimpl
def mengchong_tasks(app: web.Application) -> Iterable[BackgroundTask]:
    """The log's daily pruning; the reminder job, when its kind has a template and the check-in
    plugin (whose table says who checked in) is enabled."""
    tasks = [BackgroundTask("notifications.prune", run_prune)]
    enabled = {plugin.name for plugin in app[plugins_key] if plugin.enabled}
    if "checkin" in enabled and plugin_settings(app, NotificationsSettings).templates[REMINDER].enabled:
        tasks.append(BackgroundTask("notifications.reminder", Reminder().run))
    return tasks


@hookimpl
def mengchong_console_sections(app: web.Application) -> Iterable[Section]:
    return backoffice.sections(app)
