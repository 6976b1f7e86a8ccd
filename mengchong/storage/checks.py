"""CHECK constraints for migrations, on both SQL dialects.

tortoise 1.1 records ``Meta.constraints`` checks in ``CreateModel`` without creating them, and
adding one later on SQLite rebuilds the table and loses its unique constraints. So checks are
migration operations of their own: ``ALTER TABLE ... ADD CONSTRAINT`` on PostgreSQL, and on
SQLite (whose ALTER TABLE can't add one) a pair of triggers that abort the INSERT or UPDATE
exactly as a CHECK would, with the same constraint name in the error.
"""

from __future__ import annotations

from typing import Any

from tortoise.migrations.operations import RunPython


def add_check(table: str, name: str, condition: str, *columns: str) -> RunPython:
    """A migration operation adding ``condition`` (columns written ``{column}``) as a CHECK."""
    quoted = {column: f'"{column}"' for column in columns}
    on_new_row = {column: f'NEW."{column}"' for column in columns}

    async def forward(apps: Any, editor: Any) -> None:
        if editor.DIALECT == "postgres":
            check = condition.format(**quoted)
            await editor.client.execute_script(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" CHECK ({check})'
            )
            return
        check = condition.format(**on_new_row)
        for event in ("INSERT", "UPDATE"):
            await editor.client.execute_script(
                f'CREATE TRIGGER "{name}_{event.lower()}" BEFORE {event} ON "{table}" '
                f"WHEN NOT ({check}) BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
            )

    async def backward(apps: Any, editor: Any) -> None:
        if editor.DIALECT == "postgres":
            await editor.client.execute_script(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            return
        for event in ("insert", "update"):
            await editor.client.execute_script(f'DROP TRIGGER IF EXISTS "{name}_{event}"')

    return RunPython(forward, backward)
