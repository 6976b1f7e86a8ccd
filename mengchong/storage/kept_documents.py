"""A documents collection whose hot reads are served from this process's copies while they are
current, so that a warm read of one document asks the database nothing.

A document carries its own ``version``, which every write raises. The cache port holds, at
``<prefix>docver:<collection>:<id>``, the highest version any process has seen committed:

- a writer, once its statement has returned (committed: document writes are single statements,
  never inside a :meth:`~mengchong.storage.database.Database.transaction`), raises the stored
  version to the one it wrote and keeps the document it got back;
- a reader that finds a copy kept under the stored version serves it; otherwise it reads the
  database, raises the stored version to what it read (never lowers it: a reader that read
  before a commit can't hide the writer's version) and keeps that.

So once a writer's call has returned, every process reads the stored version it raised, which
no older copy matches. A deleted document's version becomes :data:`GONE`, above any real one, so
a reader that read it just before the delete can never make its copy current again.

The stored version is usually read in a round trip the request makes anyway: a route marked
:func:`mengchong.http.validation.keeps_document` has the auth guard read it in its admission
script (:attr:`~mengchong.http.ratelimit.Admission.doc_version`). Otherwise :meth:`get` asks
the cache port itself (one GET). The one gap is the one of :mod:`~mengchong.storage.row_versions`:
a version raise that fails (Redis unreachable, then back with its data). The writer's process
drops its own copy at once, and a copy is served at most ``max_age_seconds`` after its read.
Copies are the documents' JSON bytes, decoded on each use, so no caller can change a kept one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from mengchong.storage.cache import Cache
from mengchong.storage.documents import EMPTY, Collection, Document, Record, Scalar
from mengchong.storage.row_versions import VersionedCopies
from mengchong.storage.transaction import in_transaction

if TYPE_CHECKING:
    from mengchong.storage.outbox import OutboxRow

log = logging.getLogger(__name__)

GONE = 2**62
"""The stored version of a deleted document: above any version a document reaches."""
VERSION_TTL_SECONDS = 86_400
"""A stored version unread for a day expires; the next reader stores what it reads."""

_RAISE_LUA = f"""
local stored = tonumber(redis.call('get', KEYS[1])) or 0
if tonumber(ARGV[1]) > stored then
    redis.call('set', KEYS[1], ARGV[1], 'ex', {VERSION_TTL_SECONDS})
end
return 1
"""


def document_version_key(cache: Cache, collection: str, doc_id: str) -> str:
    return cache.key("docver", collection, doc_id)


class KeptCollection:
    """A :class:`~mengchong.storage.documents.Collection` (it is one) whose :meth:`get` may answer
    from a copy; all its writes go through it, so it keeps the stored versions true."""

    def __init__(self, collection: Collection, cache: Cache, size: int, max_age_seconds: float) -> None:
        self.collection = collection
        self.name = collection.name
        self.writes_outbox = collection.writes_outbox
        self.cache = cache
        self.copies: VersionedCopies[bytes] = VersionedCopies(size, max_age_seconds)
        self._raise = cache.hot_script(_RAISE_LUA)

    def version_key(self, doc_id: str) -> str:
        return document_version_key(self.cache, self.name, doc_id)

    async def get(self, doc_id: str, stored_version: str | None = None) -> Document | None:
        """The document: this process's copy if it is kept under the stored version
        (``stored_version`` when the caller's round trip read it: ``""`` for none), else read
        and kept."""
        if self.copies.size <= 0:
            return await self.collection.get(doc_id)
        if stored_version is None:
            raw = await self.cache.fast("GET", self.version_key(doc_id))
            stored_version = "" if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
        if stored_version:
            kept = self.copies.get(doc_id, stored_version)
            if kept is not None:
                return orjson.loads(kept)
        document = await self.collection.get(doc_id)
        if document is not None:
            await self._keep(document)
        return document

    async def _keep(self, document: Document) -> None:
        """Raise the stored version to the document's, then keep the document under it."""
        doc_id, version = document["id"], document["version"]
        if await self._raised(doc_id, version):
            # A copy of exactly its size: orjson's bytes keep the block they were written in,
            # 8 KB for a 700-byte pet (10,000 kept pets took 80 MB instead of 7).
            self.copies.put(doc_id, str(version), memoryview(orjson.dumps(document)).tobytes())

    async def _raised(self, doc_id: str, version: int) -> bool:
        """Raise the stored version of ``doc_id`` to ``version``. A cache that can't be reached
        fails nothing (logged, False): the read or write is done, and nothing is kept."""
        try:
            await self._raise(keys=[self.version_key(doc_id)], args=[version])
        except Exception as exc:
            log.warning("could not raise the stored version of %s %s: %r", self.name, doc_id, exc)
            return False
        return True

    def _no_transaction(self) -> None:
        if in_transaction():
            # The version would be raised before the commit: a copy of a write that may still
            # roll back could be served.
            raise RuntimeError(f"a kept collection ({self.name}) is written outside transactions")

    async def insert(self, doc: Mapping[str, Any], *, doc_id: str | None = None) -> Document:
        self._no_transaction()
        document = await self.collection.insert(doc, doc_id=doc_id)
        await self._keep(document)
        return document

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
        self._no_transaction()
        # Once a write is tried, whatever this process keeps may not be the document's latest
        # (a write that raised may have landed; a compare-and-set that lost, another writer's
        # did, and that writer raises the stored version itself).
        self.copies.drop(frozenset([doc_id]))
        updated = await self.collection.update(
            doc_id,
            changes,
            expected_version=expected_version,
            increment=increment,
            record=record,
            outbox=outbox,
        )
        if updated is not None:
            await self._keep(updated)
        return updated

    async def delete(self, doc_id: str) -> bool:
        self._no_transaction()
        self.copies.drop(frozenset([doc_id]))
        deleted = await self.collection.delete(doc_id)
        await self._raised(doc_id, GONE)
        return deleted

    async def ensure_index(self, *fields: str) -> None:
        await self.collection.ensure_index(*fields)

    async def get_many(
        self, doc_ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, Document]:
        return await self.collection.get_many(doc_ids, fields=fields)

    async def find(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        return await self.collection.find(filter, sort=sort, skip=skip, limit=limit, fields=fields)

    async def find_page(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[Document], int]:
        return await self.collection.find_page(filter, sort=sort, skip=skip, limit=limit, fields=fields)

    async def count(self, filter: Mapping[str, Scalar] = EMPTY) -> int:
        return await self.collection.count(filter)
