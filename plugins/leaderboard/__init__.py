"""The leaderboard plugin (seed §5.6): ranked boards on the cache port's sorted sets, set from the
events accounts, the ledger and pets record (``points.changed``, ``pet.adopted``,
``pet.interacted``, ``user.banned``, ...), the caller's rank, a minimal friend graph (invite
codes) for the friends' board, and ``mengchong leaderboard rebuild`` to recompute the boards from
the databases. Its settings are the ``[leaderboard]`` section
(:class:`mengchong_plugins.leaderboard.settings.LeaderboardSettings`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl
from mengchong.commands import Command
from mengchong.events import Subscriber
from mengchong.storage.database import ModelSet
from mengchong_plugins.leaderboard import rebuild, routes_boards, routes_friends, subscribers
from mengchong_plugins.leaderboard.display import KeptDisplay, kept_display_key
from mengchong_plugins.leaderboard.settings import LeaderboardSettings


@hookimpl
def mengchong_settings() -> tuple[str, type[BaseModel]]:
    return "leaderboard", LeaderboardSettings


@hookimpl
def mengchong_models() -> ModelSet:
    return ModelSet(
        "leaderboard", ["mengchong_plugins.leaderboard.models"], "mengchong_plugins.leaderboard.migrations"
    )


@hookimpl
def mengchong_routes(app: web.Application) -> Iterable[web.AbstractRouteDef]:
    return [*routes_boards.routes, *routes_friends.routes]


@hookimpl
def mengchong_cleanup_ctx(app: web.Application) -> AsyncIterator[None]:
    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        app[kept_display_key] = KeptDisplay(app)
        yield

    return lifespan(app)


@hookimpl
def mengchong_subscribers(app: web.Application) -> Iterable[Subscriber]:
    return subscribers.subscribers(app)


@hookimpl
def mengchong_commands() -> Iterable[Command]:
    return [rebuild.LEADERBOARD_COMMAND]
