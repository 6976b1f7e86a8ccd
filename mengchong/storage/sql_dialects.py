"""How the SQL adapter of the documents port (:mod:`mengchong.storage.documents_sql`) writes
its statements on SQLite and on PostgreSQL: field expressions, typed equality, sort order,
index columns, updates of the JSON body, pages, projections, and the row read back as a
document. Names in these expressions were checked by :mod:`mengchong.storage.documents`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from mengchong.storage.documents import Document, Scalar, project

COLUMNS = {"id": "doc_id", "version": "version"}  # reserved fields live in columns, not in data


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


class Statement:
    """SQL text and its parameters, built together so that the placeholders line up.

    SQLite's ``?`` placeholders are positional: build the text in reading order."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else "?"


class Dialect:
    """What both dialects share; each supplies ``field`` and ``json_equals``.

    ``field`` is the expression that indexes, filters and sorts share; it is SQL NULL for a JSON
    null and for a missing field alike."""

    postgres: bool

    def field(self, name: str) -> str:
        raise NotImplementedError

    def json_equals(self, p: Statement, name: str, expression: str, value: Scalar) -> str:
        raise NotImplementedError

    def equals(self, p: Statement, name: str, value: Scalar) -> str:
        expression = self.field(name)
        if name in COLUMNS:
            return f"{expression} = {p(value)}"
        if value is None:
            return f"{expression} IS NULL"
        return self.json_equals(p, name, expression, value)


class SqliteDialect(Dialect):
    """SQLite's JSON expressions (:class:`PostgresDialect` has the same methods)."""

    postgres = False

    def field(self, name: str) -> str:
        return COLUMNS.get(name) or f"json_extract(data, '$.{name}')"

    def json_equals(self, p: Statement, name: str, expression: str, value: Scalar) -> str:
        # json_extract turns true into 1 and returns objects and arrays as text: check the type.
        if isinstance(value, bool):
            kind = "= 'true'" if value else "= 'false'"
        elif isinstance(value, str):
            kind = "= 'text'"
        else:
            kind = "IN ('integer', 'real')"
        return f"{expression} = {p(value)} AND json_type(data, '$.{name}') {kind}"

    def order(self, name: str, direction: int) -> str:
        # SQLite sorts NULL first ascending and last descending, as MongoDB does.
        return f"{self.field(name)} {'ASC' if direction == 1 else 'DESC'}"

    def index_column(self, name: str) -> str:
        return self.field(name)

    def new_data(self, p: Statement, sets: Document, adds: Mapping[str, int | float]) -> str:
        pairs = [f"'$.{key}', json({p(json_text(value))})" for key, value in sets.items()]
        pairs += [
            f"'$.{key}', COALESCE(json_extract(data, '$.{key}'), 0) + {p(amount)}"
            for key, amount in adds.items()
        ]
        return f"json_set(data, {', '.join(pairs)})"

    def numeric_or_missing(self, name: str) -> str:
        kind = f"json_type(data, '$.{name}')"
        return f"({kind} IS NULL OR {kind} IN ('integer', 'real'))"

    def json_param(self, p: Statement, value: Document) -> str:
        return p(json_text(value))

    def page(self, p: Statement, skip: int, limit: int | None) -> str:
        return f"LIMIT {p(-1 if limit is None else limit)} OFFSET {p(skip)}"

    def projection(self, fields: list[str] | None) -> str:
        # json_extract turns true into 1: SQLite hands the whole body over and Python cuts it.
        return "data"


class PostgresDialect(Dialect):
    postgres = True

    def field(self, name: str) -> str:
        return COLUMNS.get(name) or f"NULLIF(data -> '{name}', 'null'::jsonb)"

    def json_equals(self, p: Statement, name: str, expression: str, value: Scalar) -> str:
        # jsonb equality already compares types: 1 = 1.0, 1 <> true, 1 <> '1', 1 <> [1].
        return f"{expression} = {p(json_text(value))}::jsonb"

    def order(self, name: str, direction: int) -> str:
        if name in COLUMNS:
            return f"{self.field(name)} {'ASC' if direction == 1 else 'DESC'}"
        return f"{self.field(name)} {'ASC NULLS FIRST' if direction == 1 else 'DESC NULLS LAST'}"

    def index_column(self, name: str) -> str:
        # NULLS FIRST so that one index serves both directions of order() (read backwards for -1).
        return self.field(name) if name in COLUMNS else f"({self.field(name)}) NULLS FIRST"

    def new_data(self, p: Statement, sets: Document, adds: Mapping[str, int | float]) -> str:
        expression = "data"
        if sets:
            expression += f" || {p(json_text(sets))}::jsonb"
        if adds:
            pairs = [
                f"'{key}', COALESCE((data -> '{key}')::numeric, 0) + ({p(json_text(amount))}::jsonb)::numeric"
                for key, amount in adds.items()
            ]
            expression += f" || jsonb_build_object({', '.join(pairs)})"
        return expression

    def numeric_or_missing(self, name: str) -> str:
        return f"(data -> '{name}' IS NULL OR jsonb_typeof(data -> '{name}') = 'number')"

    def json_param(self, p: Statement, value: Document) -> str:
        return f"{p(json_text(value))}::jsonb"

    def page(self, p: Statement, skip: int, limit: int | None) -> str:
        return f"LIMIT {'ALL' if limit is None else p(limit)} OFFSET {p(skip)}"

    def projection(self, fields: list[str] | None) -> str:
        """The body, or one column per field (``f0``, ``f1``...: NULL where the document has no
        such field, JSON null where it holds null), so less JSON travels and is parsed. Cheaper
        for PostgreSQL than building a smaller object (measured: 0.3 against 16 µs a row)."""
        if fields is None:
            return "data"
        return ", ".join(f"data -> '{name}' AS f{index}" for index, name in enumerate(fields))


def row_to_document(row: Mapping[str, Any], fields: list[str] | None = None) -> Document:
    """The document of a row: its whole body (cut to ``fields`` here when given), or the
    fields PostgreSQL cut into columns ``f0``, ``f1``... (:meth:`PostgresDialect.projection`)."""
    if "data" in row:
        data = row["data"]
        body = project(orjson.loads(data) if isinstance(data, str | bytes) else data, fields)
    else:
        columns = ((name, row[f"f{index}"]) for index, name in enumerate(fields or ()))
        body = {name: orjson.loads(value) for name, value in columns if value is not None}
    return {"id": row["doc_id"], **body, "version": row["version"]}
