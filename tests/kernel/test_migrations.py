"""``mengchong migrate`` creates the schema on SQLite and PostgreSQL, is safe to repeat, and the
committed migrations match the models (a model change without its migration fails here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector

from mengchong.app import KERNEL_MODELS, build_database
from mengchong.config import Settings
from support import run_cli, settings_from

ROOT = Path(__file__).resolve().parents[2]


async def table_names(database) -> set[str]:
    if database.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    with database.activate():
        rows = await database.connection.execute_query_dict(sql)
    return {row["name"] for row in rows}


async def test_migrate_creates_the_schema_and_is_safe_to_repeat(database_url):
    database = build_database(settings_from({"database": {"url": database_url}}), [KERNEL_MODELS])
    await database.migrate()
    await database.migrate()
    await database.open()
    try:
        expected = {
            "outbox_events",
            "documents",
            "users",
            "points_ledger",
            "user_inventory",
            "tortoise_migrations",
        }
        assert expected <= await table_names(database)
        with database.activate():
            applied = await database.connection.execute_query_dict(
                "SELECT app, name FROM tortoise_migrations"
            )
        on_disk = sorted(path.stem for path in (ROOT / "mengchong" / "migrations").glob("0*.py"))
        assert sorted((row["app"], row["name"]) for row in applied) == [("core", name) for name in on_disk]
    finally:
        await database.close()


def test_the_cli_migrates_twice(database_url, tmp_path):
    # The labels of the plugins on by default that have tables (pets keeps documents only).
    labels = ", ".join(["core", *sorted(p for p in Settings().plugins.enabled if p not in {"pets"})])
    for _ in range(2):
        result = run_cli("migrate", cwd=tmp_path, env={"MENGCHONG__DATABASE__URL": database_url})
        assert result.returncode == 0, result.stderr
        assert f"schema up to date: {labels} on" in result.stdout


def test_processes_migrating_one_database_at_once_all_succeed(database_url, tmp_path):
    # Replicas started together with `serve --migrate`: the second one used to fail creating a
    # table the first had just created; now they take turns (an advisory lock on PostgreSQL).
    from concurrent.futures import ThreadPoolExecutor

    env = {"MENGCHONG__DATABASE__URL": database_url}
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: run_cli("migrate", cwd=tmp_path, env=env), range(3)))
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "schema up to date" in result.stdout


async def test_committed_migrations_match_the_models(example_plugin_path, tmp_path):
    """The kernel's, every installed plugin's and the example plugin's."""
    from mengchong.app import model_sets
    from mengchong.plugin_manager import build_plugin_manager

    settings = settings_from({"database": {"url": f"sqlite://{tmp_path}/db.sqlite3"}})
    pm, _ = build_plugin_manager(settings, enable_all=True)
    sets = model_sets(pm)
    assert {s.label for s in sets} >= {"core", "example"}
    database = build_database(settings, sets)
    config = database.tortoise_config()
    async with tortoise_cli_context(config) as context:
        writers = await MigrationAutodetector(context.apps, config["apps"]).changes()
    assert [f"{w.app_label}.{w.name}" for w in writers] == [], "run `python -m mengchong makemigrations`"


async def test_check_constraints_hold_on_both_dialects(database_url):
    """Balances, stock-like quantities and enumerations are guarded by the database itself."""
    from tortoise.exceptions import IntegrityError

    database = build_database(settings_from({"database": {"url": database_url}}), [KERNEL_MODELS])
    await database.migrate()
    await database.open()
    try:
        with database.activate():
            from mengchong.accounts.models import User
            from mengchong.economy.models import InventoryItem

            user = await User.create(openid="o-check")
            for change in ({"points_balance": -1}, {"gender": 3}, {"role": "root"}):
                with pytest.raises(IntegrityError):
                    await User.filter(id=user.id).update(**change)
            with pytest.raises(IntegrityError):
                await InventoryItem.create(user=user, item_id="food", quantity=-1)
            assert (await User.get(id=user.id)).points_balance == 0
    finally:
        await database.close()
