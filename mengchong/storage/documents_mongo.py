"""The MongoDB adapter of the documents port (services profile), on motor.

The only module that imports motor: moving to PyMongo's own async client later touches this
file alone. Each collection of the port is a MongoDB collection of the same name; a document's
id is its ``_id`` (a string), shown to callers as ``id``; ``version`` is an ordinary field.

Filters carry ``$type`` guards because MongoDB's own equality is looser than the port's: it
matches inside arrays (``{"tags": "a"}`` finds ``["a", "b"]``), and mongomock (the test stand-in)
also takes ``True`` for ``1``. Increments are guarded the same way, so a field holding a string
fails alike on MongoDB, on mongomock and on SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from mengchong.storage.documents import (
    EMPTY,
    Document,
    DocumentValueError,
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

if TYPE_CHECKING:
    from mengchong.storage.outbox import OutboxRow

# Fail fast when the server is down (pymongo waits 30 s by default); a URL option wins.
SERVER_SELECTION_TIMEOUT_MS = 5000

NOT_AN_ARRAY = {"$not": {"$type": "array"}}


def mongo_field(name: str) -> str:
    return "_id" if name == "id" else name


def type_alias(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    return "number"


def mongo_filter(filter: Mapping[str, Scalar]) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for key, value in check_filter(filter).items():
        if key in ("id", "version"):
            query[mongo_field(key)] = value
        elif value is None:
            query[key] = {"$eq": None, **NOT_AN_ARRAY}
        else:
            query[key] = {"$eq": value, "$type": type_alias(value), **NOT_AN_ARRAY}
    return query


def from_mongo(raw: Mapping[str, Any]) -> Document:
    doc = dict(raw)
    return {"id": doc.pop("_id"), **doc}


class MongoCollection:
    """One MongoDB collection; the motor collection is looked up per call, after ``open``."""

    writes_outbox = False  # the outbox is a table of the relational database

    def __init__(self, store: MongoDocumentStore, name: str) -> None:
        self.name = check_collection_name(name)
        self._store = store

    def __repr__(self) -> str:
        return f"MongoCollection({self.name!r})"

    @property
    def _collection(self) -> Any:
        return self._store.database[self.name]

    async def ensure_index(self, *fields: str) -> None:
        keys = [(mongo_field(name), ASCENDING) for name in check_index_fields(fields)]
        if "id" not in fields:
            keys.append(("_id", ASCENDING))  # the tie-breaker of every sort
        await self._collection.create_index(keys)

    async def insert(self, doc: Mapping[str, Any], *, doc_id: str | None = None) -> Document:
        body = check_document(doc)
        doc_id = new_doc_id(doc_id)
        try:
            await self._collection.insert_one({"_id": doc_id, **body, "version": 1})
        except DuplicateKeyError:
            raise DuplicateDocument(f"{self.name}: a document with id {doc_id!r} exists") from None
        return {"id": doc_id, **body, "version": 1}

    async def get(self, doc_id: str) -> Document | None:
        raw = await self._collection.find_one({"_id": check_doc_id(doc_id)})
        return from_mongo(raw) if raw is not None else None

    async def get_many(
        self, doc_ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, Document]:
        ids = check_doc_ids(doc_ids)
        if not ids:
            return {}
        names = check_fields(fields)
        projection = None if names is None else {**dict.fromkeys(names, 1), "version": 1}
        cursor = self._collection.find({"_id": {"$in": ids}}, projection)
        found = [from_mongo(raw) async for raw in cursor]
        return {document["id"]: document for document in found}

    async def find(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        check_page(skip, limit)
        keys = [(mongo_field(key), direction) for key, direction in check_sort(sort)]
        query = mongo_filter(filter)
        names = check_fields(fields)
        projection = None if names is None else {**dict.fromkeys(names, 1), "version": 1}
        if limit == 0:  # MongoDB reads limit 0 as "no limit"
            return []
        cursor = self._collection.find(query, projection).sort(keys).skip(skip)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [from_mongo(raw) async for raw in cursor]

    async def find_page(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[Document], int]:
        found = await self.find(filter, sort=sort, skip=skip, limit=limit, fields=fields)
        return found, await self.count(filter)

    async def count(self, filter: Mapping[str, Scalar] = EMPTY) -> int:
        return int(await self._collection.count_documents(mongo_filter(filter)))

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
        if outbox:
            raise DocumentValueError("the MongoDB documents store writes no outbox rows (writes_outbox)")
        sets, adds = check_update(changes, increment)
        query: dict[str, Any] = {"_id": check_doc_id(doc_id)}
        if expected_version is not None:
            query["version"] = check_version(expected_version)
        if adds:
            query["$and"] = [
                {"$or": [{key: {"$exists": False}}, {key: {"$type": "number", **NOT_AN_ARRAY}}]}
                for key in adds
            ]
        update: dict[str, Any] = {"$inc": {**adds, "version": 1}}
        if sets:
            update["$set"] = sets
        checked = check_record(record)
        if checked is not None:  # first, so that a taken id changes nothing
            await MongoCollection(self._store, checked.collection).insert(checked.body, doc_id=checked.doc_id)
        raw = None
        try:
            raw = await self._collection.find_one_and_update(
                query, update, return_document=ReturnDocument.AFTER
            )
        finally:
            if raw is None and checked is not None:  # the update did not apply (or failed): neither
                await MongoCollection(self._store, checked.collection).delete(checked.doc_id)
        if raw is not None:
            return from_mongo(raw)
        if adds:
            raise_if_not_numeric(await self.get(doc_id), expected_version, adds)
        return None

    async def delete(self, doc_id: str) -> bool:
        result = await self._collection.delete_one({"_id": check_doc_id(doc_id)})
        return bool(result.deleted_count)


class MongoDocumentStore:
    """The documents port on MongoDB.

    Give either ``url`` (the client is created in :meth:`open` and closed in :meth:`close`) or
    ``client``, an already built motor-compatible client (e.g. mongomock-motor's) that the
    caller owns.
    """

    name = "mongodb"

    def __init__(self, url: str = "", database: str = "mengchong", *, client: Any = None) -> None:
        if bool(url) == (client is not None):
            raise ValueError("MongoDocumentStore needs either a URL or a client")
        self.url = url
        self.database_name = database
        self.client: Any = client
        self._owns_client = client is None
        self._collections: dict[str, MongoCollection] = {}

    def __repr__(self) -> str:
        return f"MongoDocumentStore(database={self.database_name!r})"

    @property
    def database(self) -> Any:
        if self.client is None:
            raise RuntimeError("MongoDocumentStore is not open")
        return self.client[self.database_name]

    async def open(self) -> None:
        """Create the client (it connects lazily, so the server starts while MongoDB is down
        and /readyz says so)."""
        if self.client is None:
            options: dict[str, Any] = {"appname": "mengchong"}
            if "serverselectiontimeoutms" not in self.url.lower():
                options["serverSelectionTimeoutMS"] = SERVER_SELECTION_TIMEOUT_MS
            self.client = AsyncIOMotorClient(self.url, **options)

    async def close(self) -> None:
        if self._owns_client and self.client is not None:
            self.client.close()
            self.client = None

    async def ping(self) -> None:
        await self.database.command("ping")

    def collection(self, name: str) -> MongoCollection:
        if name not in self._collections:
            self._collections[name] = MongoCollection(self, name)
        return self._collections[name]
