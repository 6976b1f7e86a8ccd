"""Every typed ``web.AppKey`` and request key of the kernel, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import pluggy

    from mengchong.accounts.profiles import UserRows
    from mengchong.accounts.tokens import TokenService
    from mengchong.clock import Clock
    from mengchong.config import Settings
    from mengchong.economy.items import ItemCatalog
    from mengchong.events import EventBus
    from mengchong.http.deadline import Deadlines
    from mengchong.http.metrics import Metrics
    from mengchong.http.ratelimit import Limiter
    from mengchong.moderation import SensitiveWordFilter
    from mengchong.plugin_manager import PluginInfo
    from mengchong.storage.cache import Cache
    from mengchong.storage.database import Database
    from mengchong.storage.documents import DocumentStore
    from mengchong.storage.files import FileStore
    from mengchong.storage.queue import Queue
    from mengchong.tasks import TaskSupervisor
    from mengchong.wechat import WechatClient

settings_key: web.AppKey[Settings] = web.AppKey("settings")
plugin_manager_key: web.AppKey[pluggy.PluginManager] = web.AppKey("plugin_manager")
plugins_key: web.AppKey[list[PluginInfo]] = web.AppKey("plugins")
plugin_settings_key: web.AppKey[dict[str, object]] = web.AppKey("plugin_settings")
database_key: web.AppKey[Database] = web.AppKey("database")
cache_key: web.AppKey[Cache] = web.AppKey("cache")
documents_key: web.AppKey[DocumentStore] = web.AppKey("documents")
queue_key: web.AppKey[Queue] = web.AppKey("queue")
files_key: web.AppKey[FileStore] = web.AppKey("files")
events_key: web.AppKey[EventBus] = web.AppKey("events")
tasks_key: web.AppKey[TaskSupervisor] = web.AppKey("tasks")
metrics_key: web.AppKey[Metrics] = web.AppKey("metrics")
tokens_key: web.AppKey[TokenService] = web.AppKey("tokens")
limiter_key: web.AppKey[Limiter] = web.AppKey("limiter")
wechat_key: web.AppKey[WechatClient] = web.AppKey("wechat")
word_filter_key: web.AppKey[SensitiveWordFilter] = web.AppKey("word_filter")
deadlines_key: web.AppKey[Deadlines | None] = web.AppKey("deadlines")
clock_key: web.AppKey[Clock] = web.AppKey("clock")
item_catalog_key: web.AppKey[ItemCatalog] = web.AppKey("item_catalog")
user_rows_key: web.AppKey[UserRows] = web.AppKey("user_rows")

CURRENT_USER = "mengchong.current_user"
ROW_VERSION = "mengchong.row_version"
"""The caller's user-row version, read by the auth guard in its round trip
(:func:`mengchong.accounts.profiles.profile_body`)."""
KEPT_DOCUMENT = "mengchong.kept_document"
"""``(collection, document id)`` of a route marked :func:`mengchong.http.validation.keeps_document`,
set by the request pipeline before the auth guard runs, so the guard reads its stored version."""
DOC_VERSION = "mengchong.doc_version"
"""That document's stored version (:mod:`mengchong.storage.kept_documents`), read by the auth
guard in its round trip; ``""`` when none is stored, absent when it was not read."""
IP_PENDING = "mengchong.ip_pending"
"""Set by the request pipeline on a route whose guard counts the client IP's limit itself, in the same
round trip as the token check (:meth:`mengchong.http.ratelimit.Limiter.admit`)."""
FORWARDED_CLIENT_IP = "mengchong.forwarded_client_ip"
"""The client IP read from X-Forwarded-For, kept on the request once parsed
(:func:`mengchong.http.client_ip.client_ip`)."""
PUBLIC_BASE_URL = "mengchong.public_base_url"
"""The base of the URLs handed out in answer to the request, kept once built from it
(:func:`mengchong.http.urls.public_base_url`)."""
