"""The end-of-run check sees what a test leaves on each service: a database, a Redis key and a
queue named after the run are each reported, and nothing once they are gone."""

from __future__ import annotations

import shutil

import aio_pika
import asyncpg
import pytest
import redis.asyncio as aioredis

from leftovers import RUN, leftovers
from support import AMQP_URL, PG_URL, REDIS_URL, require_service


@pytest.mark.services
async def test_leftovers_are_reported_on_every_service():
    for name, url in (("PostgreSQL", PG_URL), ("Redis", REDIS_URL), ("RabbitMQ", AMQP_URL)):
        require_service(name, url)
    database, key, queue = f"mengchong_test_{RUN}_leak", f"test:{RUN}:leak", f"test.{RUN}.leak"
    admin = await asyncpg.connect(PG_URL)
    cache = aioredis.Redis.from_url(REDIS_URL)
    broker = await aio_pika.connect(AMQP_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        await cache.set(key, 1)
        channel = await broker.channel()
        await channel.declare_queue(queue)
        found = " ".join(leftovers())
        assert f"database {database}" in found
        assert key in found
        if shutil.which("rabbitmqctl"):  # the broker's CLI is what lists queues
            assert queue in found
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        await cache.delete(key)
        await (await broker.channel()).queue_delete(queue)
        await admin.close()
        await cache.aclose()
        await broker.close()
    assert not [item for item in leftovers() if "leak" in item]
