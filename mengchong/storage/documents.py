"""The documents port: schemaless JSON documents in named collections (pets, pet interactions).

Two adapters keep the same contract (``tests/storage/test_documents_contract.py`` runs against
both): :class:`mengchong.storage.documents_sql.SqlDocumentStore` (the ``documents`` table of the
relational database; embedded default) and :class:`mengchong.storage.documents_mongo.MongoDocumentStore`
(MongoDB through motor; services profile). :func:`open_documents` picks one from the settings.

The contract, for every adapter:
- A document is a JSON object: keys are strings, values are dicts, lists, str, int (64-bit),
  finite float, bool or None, nested at most ``MAX_DEPTH`` deep. Datetimes are stored by callers
  as ISO strings. Keys never start with ``$``, contain ``.`` or NUL; strings contain no NUL.
- Top-level field names match ``FIELD_NAME`` (ASCII letters, digits, ``_``; a letter first).
  ``id`` and ``version`` are reserved: every stored document carries them, callers never set them.
- ``insert`` stores version 1 under ``doc_id`` (or a new ``uuid4().hex``); a repeated id raises
  :class:`DuplicateDocument`, decided by a unique constraint of the database.
- ``find``/``count`` filter by equality on top-level fields. A value matches only a value of the
  same JSON type (``1`` matches ``1.0`` but not ``true``; ``"1"`` matches only ``"1"``); ``None``
  matches null and missing fields; a filter never matches inside arrays. ``sort`` takes
  ``(field, 1 | -1)`` pairs; null and missing sort first ascending, last descending; ties are
  broken by ``id`` in the direction of the last sort key (ascending without a sort), so pages
  never overlap. Sort a field that holds one JSON type: mixed types order differently per adapter.
- ``find`` with ``fields`` returns only those top-level fields, the ones a document has, beside
  ``id`` and ``version`` (a field holding null is returned as null; a missing one is left out).
  ``find_page`` is ``find`` together with how many documents match the filter in all: one
  statement on SQL, so a page and its total are read together.
- ``update`` is one atomic statement: set fields, add numbers, bump the version; with
  ``expected_version`` it is a compare-and-set. It returns the new document, or None when the
  document is missing or its version differs. Incrementing a field that holds something other
  than a number (a missing field counts as 0) raises :class:`NonNumericField` and changes nothing.
  With a :class:`Record`, that document is inserted into its collection if and only if the update
  applies, so a change and its log entry are never apart: one statement on PostgreSQL, one
  transaction on SQLite; on MongoDB the record goes in first and is deleted again when the
  update does not apply (a crash in between can leave a record without its update). A record
  id that exists raises :class:`DuplicateDocument` and changes nothing. Likewise, ``outbox``
  rows (:mod:`mengchong.storage.outbox`) go into the relational event outbox if and only if the
  update applies, in the same statement on PostgreSQL (the same transaction on SQLite), when
  the collection's ``writes_outbox`` is true; the MongoDB adapter's is false (the outbox is
  not in MongoDB), and it refuses outbox rows.
- Anything the port does not accept (a reserved or malformed field name, a value that is not
  JSON, a bad id, filter, sort or page) raises :class:`DocumentValueError`, a ``ValueError``,
  before the database is asked.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mengchong.config import DocumentsSettings
    from mengchong.storage.database import Database
    from mengchong.storage.outbox import OutboxRow

Scalar = str | int | float | bool | None
Document = dict[str, Any]

EMPTY: Mapping[str, Any] = MappingProxyType({})
RESERVED = frozenset({"id", "version"})
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
COLLECTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,47}")
MAX_DOC_ID_LENGTH = 64  # documents.doc_id is VARCHAR(64)
MAX_DEPTH = 32
INT64 = range(-(2**63), 2**63)


class DocumentError(Exception):
    """Base of the documents port's errors."""


class DuplicateDocument(DocumentError):
    """``insert`` with an id that already exists in the collection."""


class DocumentValueError(DocumentError, ValueError):
    """A document, field name, id, filter, sort or page the port does not accept; nothing was done."""


class NonNumericField(DocumentError, TypeError):
    """``update`` was asked to increment a field that holds something other than a number."""


@dataclass(frozen=True)
class Record:
    """A document that :meth:`Collection.update` inserts into ``collection`` along with the
    update (see the module docstring)."""

    collection: str
    doc: Mapping[str, Any]
    doc_id: str | None = None


@dataclass(frozen=True)
class CheckedRecord:
    collection: str
    doc_id: str
    body: Document


def check_record(record: Record | None) -> CheckedRecord | None:
    if record is None:
        return None
    return CheckedRecord(
        check_collection_name(record.collection), new_doc_id(record.doc_id), check_document(record.doc)
    )


GET_MANY_MAX = 1000


def check_doc_ids(doc_ids: Sequence[str]) -> list[str]:
    """Each id checked, duplicates dropped; ValueError past :data:`GET_MANY_MAX`."""
    if isinstance(doc_ids, str):
        raise TypeError("doc_ids is a sequence of ids, not one id")
    unique = list(dict.fromkeys(check_doc_id(doc_id) for doc_id in doc_ids))
    if len(unique) > GET_MANY_MAX:
        raise ValueError(f"at most {GET_MANY_MAX} ids in one get_many, got {len(unique)}")
    return unique


class Collection(Protocol):
    """One named collection of documents."""

    name: str
    writes_outbox: bool  # whether ``update`` takes outbox rows (see the module docstring)

    async def ensure_index(self, *fields: str) -> None:
        """Keep equality filters on, and sorts by, these fields (in this order) fast. Idempotent."""
        ...

    async def insert(self, doc: Mapping[str, Any], *, doc_id: str | None = None) -> Document: ...

    async def get(self, doc_id: str) -> Document | None: ...

    async def get_many(
        self, doc_ids: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> dict[str, Document]:
        """The documents of ``doc_ids`` that exist, by id, in one round trip (a page's display
        data, say); ``fields`` as in :meth:`find`. At most :data:`GET_MANY_MAX` ids."""
        ...

    async def find(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Document]: ...

    async def find_page(
        self,
        filter: Mapping[str, Scalar] = EMPTY,
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[Document], int]:
        """What :meth:`find` returns, and how many documents match ``filter`` in all."""
        ...

    async def count(self, filter: Mapping[str, Scalar] = EMPTY) -> int: ...

    async def update(
        self,
        doc_id: str,
        changes: Mapping[str, Any] = EMPTY,
        *,
        expected_version: int | None = None,
        increment: Mapping[str, int | float] = EMPTY,
        record: Record | None = None,
        outbox: Sequence[OutboxRow] = (),
    ) -> Document | None: ...

    async def delete(self, doc_id: str) -> bool: ...


class DocumentStore(Protocol):
    name: str  # "sql" or "mongodb", shown by /readyz

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    def collection(self, name: str) -> Collection: ...


def open_documents(settings: DocumentsSettings, database: Database) -> DocumentStore:
    """The adapter for ``settings.url`` (not yet opened): empty = the SQL table, ``mongodb://`` = MongoDB."""
    if not settings.url:
        from mengchong.storage.documents_sql import SqlDocumentStore

        return SqlDocumentStore(database)
    from mengchong.storage.documents_mongo import MongoDocumentStore  # motor is only imported when used

    return MongoDocumentStore(settings.url, settings.database)


# --- Validation shared by the adapters -----------------------------------------------------


def check_collection_name(name: str) -> str:
    # Adapters put collection names into SQL text and index names, so the alphabet is narrow.
    if not isinstance(name, str) or not COLLECTION_NAME.fullmatch(name):
        raise DocumentValueError(
            f"collection name {name!r}: lower-case letters, digits and _, a letter first"
        )
    return name


def check_field(name: str, *, reserved_ok: bool = True) -> str:
    """A top-level field name; ``id``/``version`` only where ``reserved_ok`` (filters, sorts, indexes)."""
    if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
        raise DocumentValueError(
            f"field name {name!r}: ASCII letters, digits and _, a letter first, at most 64"
        )
    if not reserved_ok and name in RESERVED:
        raise DocumentValueError(f"field {name!r} is reserved: the store sets it")
    return name


def check_doc_id(doc_id: str) -> str:
    if not isinstance(doc_id, str) or not 0 < len(doc_id) <= MAX_DOC_ID_LENGTH or "\x00" in doc_id:
        raise DocumentValueError(f"document id {doc_id!r}: a non-empty string of at most {MAX_DOC_ID_LENGTH}")
    return doc_id


def new_doc_id(doc_id: str | None) -> str:
    return check_doc_id(doc_id) if doc_id is not None else uuid.uuid4().hex


def check_version(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DocumentValueError(f"version {version!r}: a positive integer")
    return version


def _json_value(value: Any, path: str, depth: int) -> Any:
    """A copy of ``value`` after checking that every adapter stores it alike."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value not in INT64:
            raise DocumentValueError(f"{path}: integer out of the 64-bit range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DocumentValueError(f"{path}: NaN and infinities are not JSON")
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return value
    if depth >= MAX_DEPTH:
        raise DocumentValueError(f"{path}: nested deeper than {MAX_DEPTH}")
    if isinstance(value, dict):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or key.startswith("$") or "." in key:
                raise DocumentValueError(f"{path}: key {key!r}: a non-empty string, no '.', no leading '$'")
            _check_text(key, path)
            copy[key] = _json_value(item, f"{path}.{key}", depth + 1)
        return copy
    if isinstance(value, list):
        return [_json_value(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    raise DocumentValueError(
        f"{path}: {type(value).__name__} is not a JSON type (store datetimes as ISO strings)"
    )


def _check_text(text: str, path: str) -> None:
    # PostgreSQL's jsonb can't hold NUL, and lone surrogates are not UTF-8 for any backend.
    if "\x00" in text:
        raise DocumentValueError(f"{path}: strings can't contain NUL")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentValueError(f"{path}: not valid Unicode text") from None


def check_document(doc: Mapping[str, Any]) -> Document:
    """A validated deep copy of a document body (no ``id``/``version``)."""
    if not isinstance(doc, Mapping):
        raise DocumentValueError(f"a document is a mapping, not {type(doc).__name__}")
    return {check_field(key, reserved_ok=False): _json_value(value, key, 1) for key, value in doc.items()}


def check_update(
    changes: Mapping[str, Any], increment: Mapping[str, int | float]
) -> tuple[Document, dict[str, int | float]]:
    """Validated copies of an update's ``changes`` and ``increment``."""
    sets = check_document(changes)
    adds: dict[str, int | float] = {}
    for key, amount in increment.items():
        check_field(key, reserved_ok=False)
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise DocumentValueError(f"increment {key!r}: {amount!r} is not a number")
        adds[key] = _json_value(amount, key, 1)
        if key in sets:
            raise DocumentValueError(f"field {key!r} is both set and incremented")
    return sets, adds


def check_filter(filter: Mapping[str, Scalar]) -> dict[str, Scalar]:
    checked: dict[str, Scalar] = {}
    for key, value in filter.items():
        check_field(key)
        if not (value is None or isinstance(value, str | int | float)):
            raise DocumentValueError(f"filter {key!r}: {type(value).__name__} is not a scalar")
        if key == "id" and not isinstance(value, str):
            raise DocumentValueError("filter 'id': a string")
        if key == "version" and (isinstance(value, bool) or not isinstance(value, int)):
            raise DocumentValueError("filter 'version': an integer")
        checked[key] = _json_value(value, key, 1)
    return checked


def check_sort(sort: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The sort keys with the ``id`` tie-breaker appended (direction of the last key)."""
    keys: list[tuple[str, int]] = []
    for key, direction in sort:
        check_field(key)
        if isinstance(direction, bool) or not isinstance(direction, int) or direction not in (1, -1):
            raise DocumentValueError(f"sort {key!r}: direction must be 1 or -1, not {direction!r}")
        if any(key == seen for seen, _ in keys):
            raise DocumentValueError(f"sort {key!r}: given twice")
        keys.append((key, direction))
        if key == "id":
            return keys  # ids are unique: later keys could never decide anything
    keys.append(("id", keys[-1][1] if keys else 1))
    return keys


def check_page(skip: int, limit: int | None) -> None:
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise DocumentValueError(f"skip {skip!r}: a non-negative integer")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise DocumentValueError(f"limit {limit!r}: None or a non-negative integer")


def check_fields(fields: Sequence[str] | None) -> list[str] | None:
    """A projection's field names, each once; ``id`` and ``version`` always come, so they are refused."""
    if fields is None:
        return None
    if isinstance(fields, str):
        raise DocumentValueError(f"fields {fields!r}: a sequence of field names, not one string")
    return list(dict.fromkeys(check_field(name, reserved_ok=False) for name in fields))


def project(body: Document, fields: Sequence[str] | None) -> Document:
    """``body`` cut down to ``fields`` (the ones it has); all of it when ``fields`` is None."""
    return body if fields is None else {name: body[name] for name in fields if name in body}


def check_index_fields(fields: Sequence[str]) -> list[str]:
    if not fields:
        raise DocumentValueError("ensure_index needs at least one field")
    checked = [check_field(field) for field in fields]
    if len(set(checked)) != len(checked):
        raise DocumentValueError(f"ensure_index {checked}: a field is given twice")
    return checked


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def raise_if_not_numeric(
    current: Document | None, expected_version: int | None, increment: Mapping[str, int | float]
) -> None:
    """Called after an update that changed nothing: raise :class:`NonNumericField` when the
    document was there at the expected version and only an incremented field stood in the way."""
    if current is None or (expected_version is not None and current["version"] != expected_version):
        return
    bad = sorted(key for key in increment if key in current and not is_number(current[key]))
    if bad:
        raise NonNumericField(f"can't increment {', '.join(bad)}: not a number in document {current['id']!r}")
