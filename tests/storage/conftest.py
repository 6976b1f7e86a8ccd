"""Fixtures of the storage ports' tests: every documents adapter (SQL on SQLite and PostgreSQL,
MongoDB) and both cache adapters (in-process and Redis), opened for one test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from documents_support import CORE, MONGO_MARKS, MONGO_VARIANT, Backend
from mengchong.config import CacheSettings, DocumentsSettings
from mengchong.storage.cache import Cache, open_cache
from mengchong.storage.database import Database
from mengchong.storage.documents import (
    Collection,
    DocumentStore,
    open_documents,
)
from mengchong.storage.documents_mongo import MongoDocumentStore
from support import MONGO_URL, require_service, unique_name


class MongoSummary:
    """A plugin registered at run time: one terminal-summary line naming the MongoDB used."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        used = {"mongodb-real": "a real server", "mongodb-mongomock": "mongomock-motor"}[MONGO_VARIANT]
        terminalreporter.write_sep("-", f"documents contract: the MongoDB variant uses {used}")


@pytest.fixture(scope="session")
def mongo_summary(pytestconfig: pytest.Config) -> None:
    if not pytestconfig.pluginmanager.has_plugin("mengchong-documents-mongo"):
        pytestconfig.pluginmanager.register(MongoSummary(), "mengchong-documents-mongo")


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.services),
        pytest.param(MONGO_VARIANT, marks=MONGO_MARKS),
    ]
)
def target(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[str, str]:
    """(variant, URL). A plain function: an async fixture can't resolve postgres_url by name."""
    if request.param == "sql-sqlite":
        return request.param, f"sqlite://{tmp_path}/documents.sqlite3"
    if request.param == "sql-postgres":
        return request.param, request.getfixturevalue("postgres_url")
    request.getfixturevalue("mongo_summary")
    if MONGO_URL:
        require_service("MongoDB", MONGO_URL)
    return request.param, MONGO_URL


@pytest.fixture
async def backend(target: tuple[str, str]) -> AsyncIterator[Backend]:
    """An opened store; for SQL the database context stays active through the test body."""
    variant, url = target
    if variant.startswith("sql"):
        database = Database(url, [CORE])
        await database.migrate()
        await database.open()
        with database.activate():
            store = open_documents(DocumentsSettings(), database)
            await store.open()
            yield Backend(variant, store, database)
            await store.close()
        await database.close()
    else:
        name = unique_name("mengchong_test")
        if url:
            store = MongoDocumentStore(url, name)
        else:
            store = MongoDocumentStore(client=AsyncMongoMockClient(), database=name)
        await store.open()
        yield Backend(variant, store)
        await store.client.drop_database(name)
        await store.close()


@pytest.fixture
def store(backend: Backend) -> DocumentStore:
    return backend.store


@pytest.fixture
def pets(store: DocumentStore) -> Collection:
    return store.collection("pets")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def cache_settings(request: pytest.FixtureRequest) -> CacheSettings:
    # A plain function: an async fixture can't resolve the async redis_url fixture by name.
    if request.param == "memory":
        return CacheSettings(prefix=f"test:{uuid.uuid4().hex[:12]}:")
    url = request.getfixturevalue("redis_url")
    return CacheSettings(url=url, prefix=request.getfixturevalue("redis_prefix"))


@pytest.fixture
async def cache(cache_settings: CacheSettings) -> AsyncIterator[Cache]:
    cache = open_cache(cache_settings)
    await cache.open()
    assert cache.name == ("redis" if cache_settings.url else "memory")
    yield cache
    await cache.close()
