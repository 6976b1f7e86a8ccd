"""The catalog import on both profiles: the starter catalog loads (foods, toys and the make-up card,
each granting an item of the item catalog), importing again changes nothing (admin edits kept), a
bad file writes nothing and names the product's sku and the field, simultaneous imports create
each product once, the list cache sees an import at once, and ``mengchong mall import`` runs it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mall_support import ADMIN_CODE
from mengchong.app import create_app
from mengchong.cli import build_parser
from mengchong.commands import plugin_commands, run_command
from mengchong.keys import cache_key, database_key, item_catalog_key, plugin_manager_key
from mengchong_plugins.mall import catalog
from mengchong_plugins.mall.importer import STARTER_CATALOG, ImportRefused, import_catalog
from mengchong_plugins.mall.models import Product
from support import settings_from, track_queues

STARTER = {
    # sku: (item_id, points_cost, type, per_user_limit)
    "starter.food.kibble": ("food.kibble", 5, "virtual_pet_food", None),
    "starter.food.fish": ("food.fish", 10, "virtual_pet_food", None),
    "starter.food.cake": ("food.cake", 30, "virtual_pet_food", None),
    "starter.toy.ball": ("toy.ball", 20, "virtual_pet_toy", None),
    "starter.toy.feather": ("toy.feather", 25, "virtual_pet_toy", None),
    "starter.card.makeup": ("checkin.makeup_card", 50, "makeup_card", 3),
}
GOOD = """
[[products]]
sku = "good"
name = "Fish"
type = "virtual_pet_food"
category = "food"
points_cost = 10
item_id = "food.fish"
"""


def product_toml(sku: str | None = "bad", **fields: Any) -> str:
    """One ``[[products]]`` table: a valid product with ``fields`` changed (a None value left out)."""
    values: dict[str, Any] = {
        "sku": sku,
        "name": "Ball",
        "type": "virtual_pet_toy",
        "category": "toy",
        "points_cost": 20,
        "item_id": "toy.ball",
        **fields,
    }
    lines = [f"{key} = {value!r}".replace("'", '"') for key, value in values.items() if value is not None]
    return "\n[[products]]\n" + "\n".join(lines) + "\n"


async def imported(client: TestClient, path: Path | str = STARTER_CATALOG) -> tuple[int, int]:
    app = client.server.app
    with app[database_key].activate():
        return await import_catalog(app, path)


async def rows(client: TestClient) -> list[dict[str, Any]]:
    database = client.server.app[database_key]
    with database.activate():
        return await Product.all().order_by("id").values()


async def listed(client: TestClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/mall/products?limit=100")
    body = await response.json()
    assert response.status == 200, body
    return body["data"]["items"]


async def test_the_starter_catalog_imports(client):
    assert await imported(client) == (len(STARTER), 0)
    stored = await rows(client)
    assert {
        row["sku"]: (row["item_id"], row["points_cost"], row["type"], row["per_user_limit"]) for row in stored
    } == STARTER
    catalog_items = client.server.app[item_catalog_key]
    assert all(row["item_id"] in catalog_items for row in stored)
    assert all(row["on_shelf"] and row["stock_quantity"] == -1 and row["name"].strip() for row in stored)
    assert [item["item_id"] for item in await listed(client)] == [value[0] for value in STARTER.values()]


async def test_a_second_import_changes_nothing_and_keeps_admin_edits(client, admin):
    _, auth = admin
    await imported(client)
    fish = next(row for row in await rows(client) if row["sku"] == "starter.food.fish")
    response = await client.put(
        f"/v1/admin/products/{fish['product_id']}",
        json={"points_cost": 12, "name": "Admin's fish"},
        headers=auth,
    )
    assert response.status == 200, await response.json()
    before = await rows(client)

    assert await imported(client) == (0, len(STARTER))
    assert await rows(client) == before
    edited = next(row for row in before if row["sku"] == "starter.food.fish")
    assert (edited["points_cost"], edited["name"]) == (12, "Admin's fish")


async def test_an_import_adds_the_new_skus_of_a_file(client, tmp_path):
    await imported(client)
    path = tmp_path / "more.toml"
    path.write_text(STARTER_CATALOG.read_text() + product_toml("extra.ball", name="Big ball"))
    assert await imported(client, path) == (1, len(STARTER))
    assert len(await rows(client)) == len(STARTER) + 1


BAD_FILES: dict[str, tuple[str, list[str]]] = {
    # name: (the file, what its one problem line names)
    "bound": (GOOD + product_toml(points_cost=0), ["'bad'", "points_cost"]),
    "past a bound": (GOOD + product_toml(name="n" * 65), ["'bad'", "name"]),
    "a string for a number": (GOOD + product_toml(stock_quantity="5"), ["'bad'", "stock_quantity"]),
    "unknown item": (GOOD + product_toml(item_id="food.caviar"), ["'bad'", "item_id", "food.caviar"]),
    "unknown key": (GOOD + product_toml(colour="red"), ["'bad'", "colour"]),
    "duplicate sku": (GOOD + product_toml("good"), ["'good'", "products[1]", "sku"]),
    "no sku": (GOOD + product_toml(None), ["products[1]", "sku"]),
    "bad sku": (GOOD + product_toml("has space"), ["'has space'", "sku"]),
    "bad url": (GOOD + product_toml(image_url="ftp://x/y.png"), ["'bad'", "image_url"]),
    "top-level key": (GOOD + '\ntitle = "x"\n', ["title"]),
    "not an array": ('products = "none"\n', ["products"]),
    "not TOML": (GOOD + "\n[[products]\n", ["not valid TOML"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
async def test_a_bad_file_writes_nothing_and_names_the_sku_and_field(client, tmp_path, case):
    text, named = BAD_FILES[case]
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    with pytest.raises(ImportRefused) as refused:
        await imported(client, path)
    [problem] = refused.value.problems
    assert all(part in problem for part in named), problem
    assert await rows(client) == []


async def test_every_problem_of_a_file_is_reported(client, tmp_path):
    path = tmp_path / "catalog.toml"
    text = (
        GOOD
        + product_toml("one", points_cost=-5, category="")
        + product_toml("two", item_id="x.y", stock_quantity=-7)
        + product_toml("one", sku_typo="x")
        + product_toml(None, name="")
    )
    path.write_text(text)
    with pytest.raises(ImportRefused) as refused:
        await imported(client, path)
    problems = sorted(refused.value.problems)
    assert [problem.split(": ")[:2] for problem in problems] == [
        ["product 'one' (products[1])", "category"],
        ["product 'one' (products[1])", "points_cost"],
        ["product 'one' (products[3])", "sku"],
        ["product 'one' (products[3])", "sku_typo"],
        ["product 'two' (products[2])", "item_id"],
        ["product 'two' (products[2])", "stock_quantity"],
        ["products[4]", "name"],
        ["products[4]", "sku"],
    ]
    assert problems[0].endswith("category: Length must be between 1 and 32.")
    assert problems[2].endswith("sku: given to another product of the file too")
    assert problems[4].endswith("item_id: unknown item 'x.y'")
    with pytest.raises(ImportRefused, match="can't read the file"):
        await imported(client, tmp_path / "missing.toml")
    assert await rows(client) == []


async def test_an_import_is_logged_with_its_counts(client, caplog):
    caplog.set_level(logging.INFO, logger="mengchong.mall")
    await imported(client)
    await imported(client)
    lines = [record for record in caplog.records if record.name == "mengchong.mall"]
    assert [(line.products_created, line.products_kept) for line in lines] == [
        (len(STARTER), 0),
        (0, len(STARTER)),
    ]
    assert lines[0].path == str(STARTER_CATALOG)


async def test_simultaneous_imports_create_each_product_once(client):
    results = await asyncio.gather(*(imported(client) for _ in range(5)), return_exceptions=True)
    done = [result for result in results if isinstance(result, tuple)]
    assert all(isinstance(result, tuple | ImportRefused) for result in results), results
    assert sum(created for created, _ in done) == len(STARTER)
    assert sorted(row["sku"] for row in await rows(client)) == sorted(STARTER)


async def test_an_import_is_visible_on_the_next_list_read(client, tmp_path):
    assert await listed(client) == []  # the empty shop window, now cached
    assert await imported(client) == (len(STARTER), 0)
    assert len(await listed(client)) == len(STARTER)

    cache = client.server.app[cache_key]
    generation_key = catalog.cache_keys(cache)[0]
    generation = await cache.client.get(generation_key)
    assert await imported(client) == (0, len(STARTER))  # nothing created: the cache is kept
    assert await cache.client.get(generation_key) == generation


async def run_import_command(profile: dict[str, Any], file: Path | None) -> int:
    """``mengchong mall import [FILE]`` in an app of its own on the client's database, its
    command line parsed as the CLI parses it."""
    settings = settings_from(
        profile,
        plugins={"enabled": ["pets", "checkin", "mall"]},
        auth={"admin_openids": [f"mock-{ADMIN_CODE}"]},
    )
    app = create_app(settings)
    track_queues(app)
    commands = plugin_commands(app[plugin_manager_key])
    args = build_parser(commands).parse_args(["mall", "import", *([str(file)] if file else [])])
    return await run_command(app, args.command, args)


async def test_the_mall_import_command(client, profile, tmp_path, capsys):
    assert await run_import_command(profile, None) == 0
    assert capsys.readouterr().out == f"created {len(STARTER)}, kept 0\n"
    assert await run_import_command(profile, STARTER_CATALOG) == 0
    assert capsys.readouterr().out == f"created 0, kept {len(STARTER)}\n"

    path = tmp_path / "bad.toml"
    path.write_text(GOOD + product_toml("broken", points_cost=1_000_001))
    assert await run_import_command(profile, path) == 1
    output = capsys.readouterr()
    assert output.out == ""
    assert "nothing imported" in output.err
    assert "product 'broken' (products[1]): points_cost:" in output.err
    assert sorted(row["sku"] for row in await rows(client)) == sorted(STARTER)
