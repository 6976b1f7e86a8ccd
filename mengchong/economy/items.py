"""The item catalog: every inventory item (food, toys, cards...) the enabled plugins contribute.

Each plugin names its items in its ``mengchong_items(app)`` hook; :func:`catalog_from_plugins`
calls them once in ``create_app`` and keeps the catalog at ``app[item_catalog_key]``. An item id
given by two plugins, or an item that breaks the rules below, stops the start with a
:class:`~mengchong.config.ConfigError` naming the plugin(s) and the id. The inventory grants only
items of the catalog; the item routes show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from aiohttp import web

from mengchong.config import ConfigError
from mengchong.http.errors import ApiError, field_error
from mengchong.keys import plugin_manager_key
from mengchong.plugin_manager import calls_by_plugin

ITEM_ID_MAX = 64  # the width of user_inventory.item_id
ITEM_TYPE_MAX = 32
NAME_MAX = 32
DESCRIPTION_MAX = 200
_ITEM_ID = re.compile(rf"[a-z0-9_.-]{{1,{ITEM_ID_MAX}}}")
_ITEM_TYPE = re.compile(rf"[a-z][a-z0-9_]{{0,{ITEM_TYPE_MAX - 1}}}")


@dataclass(frozen=True)
class Item:
    """One kind of item a user can hold: ``Item("food.fish", "food", "小鱼干")``.

    ``item_id`` is ``<type>.<name>`` by convention; ``name`` and ``description`` are what the
    mini program shows."""

    item_id: str
    type: str
    name: str
    description: str = ""


def item_id_problem(item_id: object) -> str | None:
    """Why ``item_id`` can't be an item id, or None when it can."""
    if not isinstance(item_id, str) or not _ITEM_ID.fullmatch(item_id):
        return f"item id must be 1-{ITEM_ID_MAX} of the characters a-z 0-9 _ . -"
    return None


def item_problem(item: Item) -> str | None:
    """Why ``item`` can't be in the catalog, or None when it can."""
    problem = item_id_problem(item.item_id)
    if problem is not None:
        return problem
    if not isinstance(item.type, str) or not _ITEM_TYPE.fullmatch(item.type):
        return f"type must be a lowercase letter then up to {ITEM_TYPE_MAX - 1} of a-z 0-9 _"
    if not isinstance(item.name, str) or not item.name.strip() or len(item.name) > NAME_MAX:
        return f"name must be 1-{NAME_MAX} characters, not blank"
    if not isinstance(item.description, str) or len(item.description) > DESCRIPTION_MAX:
        return f"description must be at most {DESCRIPTION_MAX} characters"
    return None


class ItemCatalog:
    """The items of every enabled plugin, in the order they were contributed."""

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._items: dict[str, Item] = {}
        for item in items:
            problem = item_problem(item)
            if problem is not None:
                raise ValueError(f"item {item.item_id!r}: {problem}")
            if item.item_id in self._items:
                raise ValueError(f"item {item.item_id!r} is in the catalog twice")
            self._items[item.item_id] = item

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def items(self, type: str | None = None) -> list[Item]:
        """Every item, or those of one type, in catalog order."""
        return [item for item in self._items.values() if type is None or item.type == type]

    def types(self) -> list[str]:
        """The item types present, in the order they first appear."""
        return list(dict.fromkeys(item.type for item in self._items.values()))

    def require(self, item_id: str, field: str = "item_id") -> Item:
        """The item, or a 400 naming ``field`` when the catalog has no such item."""
        item = self._items.get(item_id)
        if item is None:
            raise unknown_item(item_id, field)
        return item


def unknown_item(item_id: str, field: str = "item_id") -> ApiError:
    return field_error(field, f"unknown item {item_id!r}")


def build_item_catalog(contributions: Iterable[tuple[str, Iterable[Item]]]) -> ItemCatalog:
    """The catalog from (plugin name, its items) pairs; a bad or twice-given item is a ConfigError."""
    owners: dict[str, str] = {}
    items: list[Item] = []
    for plugin, contributed in contributions:
        for item in contributed:
            if not isinstance(item, Item):
                raise ConfigError(f"plugin {plugin!r}: mengchong_items gave {item!r}, not an Item")
            problem = item_problem(item)
            if problem is not None:
                raise ConfigError(f"item {item.item_id!r} of plugin {plugin!r}: {problem}")
            if item.item_id in owners:
                raise ConfigError(
                    f"item {item.item_id!r} is given by plugin {owners[item.item_id]!r} and again "
                    f"by plugin {plugin!r}: item ids must be unique"
                )
            owners[item.item_id] = plugin
            items.append(item)
    return ItemCatalog(items)


def catalog_from_plugins(app: web.Application) -> ItemCatalog:
    """Build the catalog from every enabled plugin's ``mengchong_items(app)``, in registration order."""
    return build_item_catalog(calls_by_plugin(app[plugin_manager_key], "mengchong_items", app=app))
