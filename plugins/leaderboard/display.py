"""What a board page shows of its users and its pets, kept in the process so that a warm page
reads neither from the database.

- A user as the boards show them (:class:`Player`: nickname, avatar, the privacy switch, the ban)
  is kept under the user's row version (:mod:`mengchong.storage.row_versions`): every write to a
  user's row or settings deletes that version after its commit, and a page asks the cache port
  for the versions of all its users in one round trip on the command lane. Only the users
  without a current copy are read, in ONE query.
- A pet's card (its owner, name and species) never changes once the pet is adopted: the pets
  plugin writes only its state, level and experience afterwards (a test holds it to that). So
  cards are kept without a version, the least recently used dropped first; only the missing ones
  are read, in ONE documents call.

- The reader's own pet ids (for their best rank on ``pet_level``) are kept under a version of
  their own (:data:`OWNED`), which the ``pet.adopted`` subscriber deletes before it puts the new
  pet on the board.

The page's script (:data:`~mengchong_plugins.leaderboard.boards.PAGE`) answers the version of
the reader's pet ids and of each line's user (a pet's member carries its owner) with the page,
so a warm page is that one round trip: no other, and no database read.

All are bounded by ``cache.profiles`` entries; a player copy and a reader's pet ids live at
most ``cache.profile_max_age_seconds``, as a kept profile does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from mengchong.accounts.profiles import USERS
from mengchong.keys import cache_key, database_key, documents_key, settings_key, user_rows_key
from mengchong.storage.database import fetch_rows
from mengchong.storage.row_versions import RowVersions, VersionedCopies

OWNED = "lb_owned_pets"
"""The row-version table of a user's pet ids (keyed by user id)."""
PET_FIELDS = ["user_id", "name", "species"]
"""What a card holds: the fields of a pet that never change after its adoption."""

_PLAYERS = (
    "SELECT u.id, u.nickname, u.avatar_url, u.banned_at, s.privacy_prefs "
    "FROM users u LEFT JOIN user_settings s ON s.user_id = u.id WHERE u.id IN ({marks})"
)


@dataclass(frozen=True)
class Player:
    """A user as the boards show them."""

    user_id: int
    nickname: str
    avatar_url: str
    listed: bool
    """``privacy_prefs.show_on_leaderboard``: shown to everyone, not only to themselves."""
    banned: bool


def _prefs(value: Any) -> dict[str, Any]:
    """A JSON column as fetched: text (or bytes) on both drivers, NULL without a settings row."""
    if value is None:
        return {}
    loaded = orjson.loads(value) if isinstance(value, str | bytes) else value
    return loaded if isinstance(loaded, dict) else {}


class KeptDisplay:
    """This process's copies of players and pet cards (one per app)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        cache = app[settings_key].cache
        self.versions = app[user_rows_key].versions  # the accounts' own: one per app
        self.players: VersionedCopies[Player] = VersionedCopies(cache.profiles, cache.profile_max_age_seconds)
        self.cards: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.cards_size = cache.profiles
        self.users_version_prefix = self.versions.key("")
        self.owned_versions = RowVersions(app[cache_key], OWNED)
        self.owned: VersionedCopies[list[str]] = VersionedCopies(
            cache.profiles, cache.profile_max_age_seconds
        )
        app[database_key].on_touched(USERS, self._users_changed)

    async def _users_changed(self, user_ids: frozenset[Any]) -> None:
        # The versions are deleted by the accounts' own listener; this process drops its copies
        # at once, so it is right even while the cache port can't be reached.
        self.players.drop(user_ids)

    async def players_of(
        self, user_ids: Iterable[int], known: dict[int, str] | None = None
    ) -> dict[int, Player]:
        """The users that exist among ``user_ids``: kept copies under their current versions
        (``known``: those a page's script answered; the others' asked for in one round trip),
        the rest read in ONE query (and kept under the versions found before reading)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        versions = dict(known or {})
        unknown = [user_id for user_id in ids if user_id not in versions]
        if unknown:
            versions.update(zip(unknown, await self.versions.current_many(unknown), strict=True))
        found: dict[int, Player] = {}
        missing = []
        for user_id in ids:
            player = self.players.get(user_id, versions[user_id])
            if player is None:
                missing.append(user_id)
            else:
                found[user_id] = player
        if missing:
            marks = ", ".join(f"${index}" for index in range(1, len(missing) + 1))
            sql = _PLAYERS.format(marks=marks)
            for row in await fetch_rows(self.app[database_key].connection, sql, missing):
                listed = _prefs(row["privacy_prefs"]).get("show_on_leaderboard", True) is not False
                user_id = int(row["id"])
                player = Player(
                    user_id, row["nickname"], row["avatar_url"], listed, row["banned_at"] is not None
                )
                found[user_id] = player
                self.players.put(user_id, versions[user_id], player)
        return found

    def held_pets(self, user_id: int) -> tuple[str, list[str]]:
        """The user's pet ids kept, and the version they were read under (``""``, [] if none)."""
        return self.owned.peek(user_id) or ("", [])

    async def pets_of(self, user_id: int, version: str) -> list[str]:
        """The user's pet ids, read now and kept under ``version`` (the current one, found
        before reading)."""
        found = await self.app[documents_key].collection("pets").find({"user_id": user_id}, fields=[])
        pet_ids = [pet["id"] for pet in found]
        self.owned.put(user_id, version, pet_ids)
        return pet_ids

    async def cards_of(self, pet_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The cards (:data:`PET_FIELDS`) of the pets that exist among ``pet_ids``."""
        found: dict[str, dict[str, Any]] = {}
        missing = []
        for pet_id in pet_ids:
            card = self.cards.get(pet_id)
            if card is None:
                missing.append(pet_id)
            else:
                self.cards.move_to_end(pet_id)
                found[pet_id] = card
        if missing:
            read = await self.app[documents_key].collection("pets").get_many(missing, fields=PET_FIELDS)
            for pet_id, document in read.items():
                card = {field: document[field] for field in PET_FIELDS if field in document}
                found[pet_id] = card
                if self.cards_size > 0:
                    self.cards[pet_id] = card
            while len(self.cards) > self.cards_size:
                self.cards.popitem(last=False)
        return found


kept_display_key: web.AppKey[KeptDisplay] = web.AppKey("leaderboard.kept_display", KeptDisplay)
