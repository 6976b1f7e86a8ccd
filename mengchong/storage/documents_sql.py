"""The SQL adapter of the documents port: rows of the ``documents`` table (embedded default).

One row per document: ``collection``, ``doc_id`` (unique together), the body in ``data`` (JSON
text on SQLite, JSONB on PostgreSQL) and ``version``. Every operation is one parameterised
statement on the tortoise connection of the :class:`Database`, looked up per call, so inside
``async with database.transaction()`` the documents change in that transaction. What differs
between SQLite and PostgreSQL is in :mod:`mengchong.storage.sql_dialects`.

Values always travel as parameters. Collection and field names are written into the SQL text
instead, after :mod:`mengchong.storage.documents` checked them against a narrow alphabet:
``ensure_index`` creates partial expression indexes (``... WHERE collection = 'pets'``), and
both databases use such an index only when the query repeats its expressions and its predicate
as literals, never as bound parameters.

PostgreSQL orders jsonb strings by the database's collation: with C or C.UTF-8 (the development
and CI machines) that is code-point order, as on SQLite and MongoDB; create production
databases the same way, or string sorts may differ between profiles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from mengchong.storage.database import Database
from mengchong.storage.documents import (
    EMPTY,
    CheckedRecord,
    Document,
    DuplicateDocument,
    Record,
    Scalar,
    check_collection_name,
    check_doc_id,
    check_doc_ids,
    check_document,
    check_fields,
    check_filter,
    check_index_fields,
    check_page,
    check_record,
    check_sort,
    check_update,
    check_version,
    new_doc_id,
    raise_if_not_numeric,
)
from mengchong.storage.outbox import COLUMNS as OUTBOX_COLUMNS
from mengchong.storage.outbox import OutboxRow, insert_outbox_rows
from mengchong.storage.sql_dialects import (
    Dialect,
    PostgresDialect,
    SqliteDialect,
    Statement,
    row_to_document,
)


class SqlCollection:
    """One collection: the rows of ``documents`` whose ``collection`` column holds its name."""

    writes_outbox = True

    def __init__(self, database: Database, name: str) -> None:
        self.name = check_collection_name(name)
        self._database = database
        self._dialect: Dialect = PostgresDialect() if database.dialect == "postgres" else SqliteDialect()
        self._scope = f"collection = '{self.name}'"

    def __repr__(self) -> str:
        return f"SqlCollection({self.name!r}, dialect={self._database.dialect!r})"

    @property
    def _connection(self) -> BaseDBAsyncClient:
        return self._database.connection

    def _statement(self) -> Statement:
        return Statement(self._dialect.postgres)

    def _where(self, p: Statement, filter: Mapping[str, Scalar]) -> str:
        terms = [self._scope] + [self._dialect.equals(p, key, value) for key, value in filter.items()]
        return " AND ".join(terms)

    def index_name(self, fields: Sequence[str]) -> str:
        digest = hashlib.sha1(f"{self.name}:{','.join(fields)}".encode()).hexdigest()[:12]
        return f"documents_{self.name[:30]}_{digest}"

    async def ensure_index(self, *fields: str) -> None:
        names = check_index_fields(fields)
        columns = [self._dialect.index_column(name) for name in names]
        if "id" not in names:
            columns.append("doc_id")  # the tie-breaker of every sort
        sql = (
            f"CREATE INDEX IF NOT EXISTS {self.index_name(names)} "
            f"ON documents ({', '.join(columns)}) WHERE {self._scope}"
        )
        try:
            await self._connection.execute_query(sql)
        except IntegrityError as exc:
            # PostgreSQL: another session (a server starting beside this one) created the same
            # index at the same moment; both passed IF NOT EXISTS and its commit came first.
            if "pg_class_relname_nsp_index" not in str(exc):
                raise

    async def insert(self, doc: Mapping[str, Any], *, doc_id: str | None = None) -> Document:
        body = check_document(doc)
        doc_id = new_doc_id(doc_id)
        p = self._statement()
        # ON CONFLICT DO NOTHING: the unique (collection, doc_id) decides, in one round trip,
        # without aborting the caller's transaction as a failed INSERT would.
        sql = (
            f"INSERT INTO documents (collection, doc_id, data, version) "
            f"VALUES ('{self.name}', {p(doc_id)}, {self._dialect.json_param(p, body)}, 1) "
            f"ON CONFLICT (collection, doc_id) DO NOTHING RETURNING doc_id"
        )
        if not await self._connection.execute_query_dict(sql, p.params):
            raise DuplicateDocument(f"{self.name}: a document with id {doc_id!r} exists")
        return {"id": doc_id, **body, "version": 1}

    async def get(self, doc_id: str) -> Document | None:
        p = self._statement()
        where = f"{self._scope} AND doc_id = {p(check_doc_id(doc_id))}"
        sql = f"SELECT doc_id, data, version FROM documents WHERE {where}"
        rows = await self._connection.execute_query_dict(sql, p.params)
        return row_to_document(rows[0]) if rows else None

    async def get_many(
        self, doc_ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, Document]:
        ids = check_doc_ids(doc_ids)
        if not ids:
            return {}
        names = check_fields(fields)
        p = self._statement()
        projection = self._dialect.projection(names)
        columns = f"doc_id, version, {projection}" if projection else "doc_id, version"
        marks = ", ".join(p(doc_id) for doc_id in ids)
        sql = f"SELECT {columns} FROM documents WHERE {self._scope} AND doc_id IN ({marks})"
        rows = await self._connection.execute_query_dict(sql, p.params)
        found = (row_to_document(row, names) for row in rows)
        return {document["id"]: document for document in found}

    def select_statement(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
        total: bool = False,
    ) -> tuple[str, list[Any]]:
        """The SELECT that :meth:`find` runs (public so tests can EXPLAIN it); with ``total``,
        each row also carries how many documents match in all. Every name is checked here,
        where it goes into the SQL text."""
        check_page(skip, limit)
        keys = check_sort(sort)
        checked = check_filter(filter)
        p = self._statement()  # SQLite's placeholders are positional: build in reading order
        projection = self._dialect.projection(check_fields(fields))
        columns = f"doc_id, version, {projection}" if projection else "doc_id, version"
        if total:
            columns += f", (SELECT COUNT(*) FROM documents WHERE {self._where(p, checked)}) AS total"
        where = self._where(p, checked)
        order = ", ".join(self._dialect.order(key, direction) for key, direction in keys)
        page = self._dialect.page(p, skip, limit)
        return f"SELECT {columns} FROM documents WHERE {where} ORDER BY {order} {page}", p.params

    async def find(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        return (await self._select(filter, sort, skip, limit, fields, total=False))[0]

    async def find_page(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[Document], int]:
        found, total = await self._select(filter, sort, skip, limit, fields, total=True)
        if total is None:  # no row to carry it: past the end, or nothing matches
            total = await self.count(filter) if skip or limit == 0 else 0
        return found, total

    async def _select(
        self,
        filter: Mapping[str, Scalar],
        sort: Sequence[tuple[str, int]],
        skip: int,
        limit: int | None,
        fields: Sequence[str] | None,
        *,
        total: bool,
    ) -> tuple[list[Document], int | None]:
        names = check_fields(fields)
        sql, params = self.select_statement(
            filter, sort=sort, skip=skip, limit=limit, fields=names, total=total
        )
        if limit == 0:
            return [], None
        rows = await self._connection.execute_query_dict(sql, params)
        found = [row_to_document(row, names) for row in rows]
        return found, (int(rows[0]["total"]) if total and rows else None)

    async def count(self, filter: Mapping[str, Scalar] = EMPTY) -> int:
        p = self._statement()
        sql = f"SELECT COUNT(*) AS n FROM documents WHERE {self._where(p, check_filter(filter))}"
        rows = await self._connection.execute_query_dict(sql, p.params)
        return int(rows[0]["n"])

    async def update(
        self,
        doc_id: str,
        changes: Mapping[str, Any] = EMPTY,
        *,
        expected_version: int | None = None,
        increment: Mapping[str, int | float] = EMPTY,
        record: Record | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> Document | None:
        sets, adds = check_update(changes, increment)
        check_doc_id(doc_id)
        checked = check_record(record)
        p = self._statement()
        data = self._dialect.new_data(p, sets, adds) if sets or adds else "data"
        where = [self._scope, f"doc_id = {p(doc_id)}"]
        if expected_version is not None:
            where.append(f"version = {p(check_version(expected_version))}")
        where += [self._dialect.numeric_or_missing(key) for key in adds]
        sql = (
            f"UPDATE documents SET data = {data}, version = version + 1 "
            f"WHERE {' AND '.join(where)} RETURNING doc_id, data, version"
        )
        if checked is None and not outbox:
            rows = await self._connection.execute_query_dict(sql, p.params)
        elif self._dialect.postgres:
            rows = await self._update_and_record(p, sql, checked, outbox)
        else:
            async with self._database.transaction() as connection:
                rows = await connection.execute_query_dict(sql, p.params)
                if rows and checked is not None:  # the record's own statement, in the same transaction
                    await SqlCollection(self._database, checked.collection).insert(
                        checked.body, doc_id=checked.doc_id
                    )
                if rows and outbox:
                    await insert_outbox_rows(connection, outbox)
        if rows:
            return row_to_document(rows[0])
        if adds:
            raise_if_not_numeric(await self.get(doc_id), expected_version, adds)
        return None

    async def _update_and_record(
        self, p: Statement, update: str, record: CheckedRecord | None, outbox: Sequence[OutboxRow]
    ) -> list[dict[str, Any]]:
        """The update, the record's insert and the outbox rows as one PostgreSQL statement: one
        commit. The inserts have no ON CONFLICT, so a taken record id fails the whole statement,
        update included (and, like any failed statement, aborts a transaction the caller has
        open)."""
        parts = [f"updated AS ({update})"]
        if record is not None:
            body = self._dialect.json_param(p, record.body)
            values = f"'{record.collection}', {p(record.doc_id)}, {body}, 1"
            parts.append(
                f"recorded AS (INSERT INTO documents (collection, doc_id, data, version) "
                f"SELECT {values} FROM updated)"
            )
        if outbox:
            rows = ", ".join(
                f"({p(event_id)}, {p(name)}, {p(payload)}::jsonb, {p(created_at)}::timestamptz, 0)"
                for event_id, name, payload, created_at in outbox
            )
            parts.append(
                f"announced AS (INSERT INTO outbox_events ({OUTBOX_COLUMNS}) "
                f"SELECT * FROM (VALUES {rows}) AS announced WHERE EXISTS (SELECT 1 FROM updated))"
            )
        sql = f"WITH {', '.join(parts)} SELECT doc_id, data, version FROM updated"
        try:
            return await self._connection.execute_query_dict(sql, p.params)
        except IntegrityError:
            if record is None:
                raise
            raise DuplicateDocument(
                f"{record.collection}: a document with id {record.doc_id!r} exists"
            ) from None

    async def delete(self, doc_id: str) -> bool:
        p = self._statement()
        where = f"{self._scope} AND doc_id = {p(check_doc_id(doc_id))}"
        sql = f"DELETE FROM documents WHERE {where} RETURNING doc_id"
        return bool(await self._connection.execute_query_dict(sql, p.params))


class SqlDocumentStore:
    """The documents port on the relational database; it opens and closes with the :class:`Database`."""

    name = "sql"

    def __init__(self, database: Database) -> None:
        self._database = database
        self._collections: dict[str, SqlCollection] = {}

    def __repr__(self) -> str:
        return f"SqlDocumentStore(dialect={self._database.dialect!r})"

    async def open(self) -> None:
        """Nothing to open: the statements use the database's connection."""

    async def close(self) -> None:
        """Nothing to close: the database closes its connections itself."""

    async def ping(self) -> None:
        """Reachable, and migrated: the ``documents`` table answers."""
        await self._database.connection.execute_query("SELECT 1 FROM documents LIMIT 1")

    def collection(self, name: str) -> SqlCollection:
        if name not in self._collections:
            self._collections[name] = SqlCollection(self._database, name)
        return self._collections[name]
