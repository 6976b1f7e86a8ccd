"""A MongoDB driver stand-in for the tests: mongomock-motor (no MongoDB server runs on these
machines), plus an outage switch that makes the next writes to one collection fail the way a
real driver does when the primary steps down (``AutoReconnect``)."""

from __future__ import annotations

from typing import Any

from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import AutoReconnect


class FlakyCollection:
    def __init__(self, real: Any, outage: dict[str, int], name: str) -> None:
        self._real, self._outage, self._name = real, outage, name

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Any:
        if self._outage.get(self._name, 0) > 0:
            self._outage[self._name] -= 1
            raise AutoReconnect("injected: primary stepped down")
        return await self._real.find_one_and_update(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class FlakyDatabase:
    def __init__(self, real: Any, outage: dict[str, int]) -> None:
        self._real, self._outage = real, outage

    def __getitem__(self, name: str) -> FlakyCollection:
        return FlakyCollection(self._real[name], self._outage, name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class FlakyMongoClient:
    """``outage["pets"] = 2`` fails the next two updates of the pets collection."""

    def __init__(self) -> None:
        self._real = AsyncMongoMockClient()
        self.outage: dict[str, int] = {}

    def __getitem__(self, name: str) -> FlakyDatabase:
        return FlakyDatabase(self._real[name], self.outage)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
