"""The item catalog: the rules an item must follow (pure), the catalog's lookups, building it from
the enabled plugins' ``mengchong_items`` in ``create_app`` (a bad or twice-given item stops the
start naming the plugin and the id), and a grant of an item the catalog lacks refused with a 400
naming ``item_id`` before anything is written, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel

from mengchong import hookimpl, plugin_settings
from mengchong.app import create_app
from mengchong.config import ConfigError
from mengchong.economy.inventory import grant_items
from mengchong.economy.items import (
    DESCRIPTION_MAX,
    NAME_MAX,
    Item,
    ItemCatalog,
    build_item_catalog,
    item_id_problem,
    item_problem,
)
from mengchong.economy.models import InventoryItem
from mengchong.http.errors import ApiError, ErrorCode
from mengchong.keys import item_catalog_key
from support import settings_from

PETS_ITEMS = ["food.kibble", "food.fish", "food.cake", "toy.ball", "toy.feather"]


class ShopSettings(BaseModel):
    prefix: str = "card"


class ItemPlugin:
    """A throwaway plugin contributing the items given, and noting what it was handed."""

    def __init__(self, *items: Item) -> None:
        self.items = list(items)
        self.handed: list[Any] = []

    @hookimpl
    def mengchong_items(self, app: web.Application) -> list[Item]:
        self.handed.append(app)
        return self.items


class ShopPlugin(ItemPlugin):
    """A plugin with a ``[shop]`` section: its items come from its own validated settings."""

    @hookimpl
    def mengchong_settings(self) -> tuple[str, type[BaseModel]]:
        return "shop", ShopSettings

    @hookimpl
    def mengchong_items(self, app: web.Application) -> list[Item]:
        settings = plugin_settings(app, ShopSettings)
        self.handed.append(settings)
        return [Item(f"{settings.prefix}.makeup", settings.prefix, "补签卡", "补一天的签到")]


def app_settings(tmp_path, enabled: list[str], **sections: dict[str, Any]) -> Any:
    database = {"url": f"sqlite://{tmp_path}/db.sqlite3"}
    return settings_from({"database": database}, plugins={"enabled": enabled}, **sections)


# --- the rules of an item (pure) -------------------------------------------------------------


@pytest.mark.parametrize("item_id", ["a", "x" * 64, "food.kibble", "card.make-up_2", "0", "a.b.c"])
def test_item_ids_within_the_rules_are_accepted(item_id):
    assert item_id_problem(item_id) is None
    assert item_problem(Item(item_id, "food", "名字")) is None


@pytest.mark.parametrize(
    "item_id",
    ["", "x" * 65, "Food.kibble", "food kibble", "food/kibble", "食物.粮", "food.kibble\n", 7, None],
)
def test_item_ids_outside_the_rules_are_refused(item_id):
    assert item_id_problem(item_id) == "item id must be 1-64 of the characters a-z 0-9 _ . -"


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (Item("food.fish", "", "小鱼干"), "type"),
        (Item("food.fish", "Food", "小鱼干"), "type"),
        (Item("food.fish", "1food", "小鱼干"), "type"),
        (Item("food.fish", "food.x", "小鱼干"), "type"),
        (Item("food.fish", "t" * 33, "小鱼干"), "type"),
        (Item("food.fish", "food", ""), "name"),
        (Item("food.fish", "food", "   "), "name"),
        (Item("food.fish", "food", "名" * (NAME_MAX + 1)), "name"),
        (Item("food.fish", "food", "小鱼干", "说" * (DESCRIPTION_MAX + 1)), "description"),
        (Item("Food.Fish", "food", "小鱼干"), "item id"),
    ],
)
def test_an_item_breaking_a_rule_is_refused_naming_the_rule(item, problem):
    assert (item_problem(item) or "").startswith(problem)


def test_an_item_at_every_limit_is_accepted():
    longest = Item("x" * 64, "t" * 32, "名" * NAME_MAX, "说" * DESCRIPTION_MAX)
    assert item_problem(longest) is None
    assert item_problem(Item("a", "t", "名")) is None


# --- the catalog ----------------------------------------------------------------------------

CATALOG = ItemCatalog(
    [
        Item("toy.ball", "toy", "小皮球"),
        Item("food.fish", "food", "小鱼干", "香"),
        Item("card.makeup", "card", "补签卡"),
        Item("food.cake", "food", "宠物蛋糕"),
    ]
)


def test_the_catalog_keeps_the_order_items_were_given_in():
    assert [item.item_id for item in CATALOG] == ["toy.ball", "food.fish", "card.makeup", "food.cake"]
    assert [item.item_id for item in CATALOG.items()] == ["toy.ball", "food.fish", "card.makeup", "food.cake"]
    assert [item.item_id for item in CATALOG.items("food")] == ["food.fish", "food.cake"]
    assert CATALOG.items("hat") == []
    assert CATALOG.types() == ["toy", "food", "card"]
    assert len(CATALOG) == 4


def test_the_catalog_looks_items_up_by_id():
    assert CATALOG.get("food.fish") == Item("food.fish", "food", "小鱼干", "香")
    assert CATALOG.get("food.pear") is None
    assert "card.makeup" in CATALOG
    assert "card.other" not in CATALOG
    assert CATALOG.require("toy.ball").name == "小皮球"


@pytest.mark.parametrize(("field", "args"), [("item_id", ()), ("items[0].item_id", ("items[0].item_id",))])
def test_requiring_an_unknown_item_is_a_400_naming_the_field(field, args):
    with pytest.raises(ApiError) as raised:
        CATALOG.require("food.pear", *args)
    assert (raised.value.status, raised.value.code) == (400, ErrorCode.BAD_FIELD)
    assert [(e.field, e.message) for e in raised.value.errors] == [(field, "unknown item 'food.pear'")]


def test_a_catalog_built_directly_refuses_bad_and_twice_given_items():
    with pytest.raises(ValueError, match=r"'food\.fish' is in the catalog twice"):
        ItemCatalog([Item("food.fish", "food", "a"), Item("food.fish", "food", "b")])
    with pytest.raises(ValueError, match="'Bad': item id must be"):
        ItemCatalog([Item("Bad", "food", "a")])


# --- built from the plugins' contributions -------------------------------------------------


def test_an_item_given_by_two_plugins_is_a_config_error_naming_both_and_the_id():
    with pytest.raises(ConfigError) as raised:
        build_item_catalog(
            [
                ("pets", [Item("food.fish", "food", "小鱼干")]),
                ("mall", [Item("card.vip", "card", "会员卡"), Item("food.fish", "food", "鱼")]),
            ]
        )
    message = str(raised.value)
    assert "'food.fish'" in message
    assert "plugin 'pets'" in message
    assert "plugin 'mall'" in message


def test_an_item_given_twice_by_one_plugin_is_a_config_error():
    with pytest.raises(
        ConfigError, match=r"'toy\.ball' is given by plugin 'pets' and again by plugin 'pets'"
    ):
        build_item_catalog([("pets", [Item("toy.ball", "toy", "球"), Item("toy.ball", "toy", "球")])])


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (Item("Food.X", "food", "x"), "item id must be"),
        (Item("food.x", "Food", "x"), "type must be"),
        (Item("food.x", "food", " "), "name must be"),
    ],
)
def test_a_bad_item_is_a_config_error_naming_the_plugin_and_the_id(item, problem):
    with pytest.raises(ConfigError) as raised:
        build_item_catalog([("pets", [Item("toy.ball", "toy", "球")]), ("mall", [item])])
    assert str(raised.value).startswith(f"item {item.item_id!r} of plugin 'mall': {problem}")


def test_something_else_than_an_item_is_a_config_error_naming_the_plugin():
    with pytest.raises(ConfigError, match=r"plugin 'mall': mengchong_items gave 'food\.x', not an Item"):
        build_item_catalog([("mall", ["food.x"])])


def test_create_app_builds_the_catalog_from_the_enabled_plugins_in_order(tmp_path):
    extra = ItemPlugin(Item("card.makeup", "card", "补签卡"))
    app = create_app(app_settings(tmp_path, ["pets"]), [("cards", extra)])
    catalog = app[item_catalog_key]
    assert [item.item_id for item in catalog] == [*PETS_ITEMS, "card.makeup"]
    assert catalog.get("food.fish") == Item(
        "food.fish", "food", "小鱼干", "香喷喷的小鱼干，爱吃鱼的宠物最喜欢"
    )
    assert extra.handed == [app], "the hook is called once, with the app"

    app = create_app(app_settings(tmp_path, []))
    assert list(app[item_catalog_key]) == [], "pets disabled: none of its items"


def test_a_plugins_items_come_from_its_own_validated_section(tmp_path):
    shop = ShopPlugin()
    app = create_app(app_settings(tmp_path, [], shop={"prefix": "voucher"}), [("shop", shop)])
    assert shop.handed == [ShopSettings(prefix="voucher")]
    assert [item.item_id for item in app[item_catalog_key]] == ["voucher.makeup"]


def test_pets_items_take_their_names_from_the_pets_section(tmp_path):
    items = {
        "food.rice": {"type": "food", "name": "米饭", "description": "一碗白米饭", "effects": {"hunger": 10}},
        "toy.box": {"type": "toy", "effects": {"mood": 5}},
    }
    app = create_app(app_settings(tmp_path, ["pets"], pets={"items": items}))
    assert list(app[item_catalog_key]) == [
        Item("food.rice", "food", "米饭", "一碗白米饭"),
        Item("toy.box", "toy", "toy.box"),  # no name configured: the id is shown
    ]


def test_a_plugin_giving_an_item_pets_gives_stops_create_app(tmp_path):
    rival = ItemPlugin(Item("food.fish", "food", "烤鱼"))
    with pytest.raises(ConfigError) as raised:
        create_app(app_settings(tmp_path, ["pets"]), [("rival", rival)])
    assert str(raised.value) == (
        "item 'food.fish' is given by plugin 'pets' and again by plugin 'rival': item ids must be unique"
    )


def test_a_plugin_giving_a_bad_item_stops_create_app(tmp_path):
    sloppy = ItemPlugin(Item("card.ok", "card", "好卡"), Item("Card.Bad", "card", "坏卡"))
    with pytest.raises(ConfigError, match=r"^item 'Card.Bad' of plugin 'sloppy': item id must be"):
        create_app(app_settings(tmp_path, []), [("sloppy", sloppy)])


def test_a_bad_pets_item_id_is_refused_with_the_pets_settings(tmp_path):
    items = {"Food.Rice": {"type": "food", "name": "米饭", "effects": {"hunger": 10}}}
    with pytest.raises(ConfigError, match=r"^pets\.items: .*'Food\.Rice': item id must be"):
        create_app(app_settings(tmp_path, ["pets"], pets={"items": items}))


# --- grants go through the catalog (both dialects) ------------------------------------------


async def test_a_grant_of_an_item_not_in_the_catalog_is_a_400_naming_item_id_and_writes_nothing(
    database, make_user
):
    alice, bob = await make_user(), await make_user()
    with database.activate():
        async with database.transaction() as connection:
            await grant_items(connection, CATALOG, alice.id, "food.fish", 2)
            await grant_items(connection, CATALOG, bob.id, "food.fish", 1)
        async with database.transaction() as connection:
            with pytest.raises(ApiError) as raised:
                await grant_items(connection, CATALOG, alice.id, "food.pear", 1)
            # Refused before any statement: the transaction goes on (PostgreSQL would refuse otherwise).
            assert await grant_items(connection, CATALOG, alice.id, "food.cake", 1) == 1
        rows = await InventoryItem.all().order_by("id").values_list("user_id", "item_id", "quantity")
    assert (raised.value.status, raised.value.code) == (400, ErrorCode.BAD_FIELD)
    assert [(e.field, e.message) for e in raised.value.errors] == [("item_id", "unknown item 'food.pear'")]
    assert rows == [(alice.id, "food.fish", 2), (bob.id, "food.fish", 1), (alice.id, "food.cake", 1)]
