"""What /metrics exports beside request latency, on both profiles: rate-limit refusals by scope,
the outbox's lag, every consumer's queue counted by state, and the process's memory and CPU;
what the dashboard and alert rules in deploy/ are drawn from."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from mengchong.events.bus import waited_seconds
from mengchong.keys import database_key, events_key
from mengchong.queue_depths import count_queues
from mengchong.storage.models import OutboxEvent
from support import settings_from


@pytest.fixture
async def client(profile, make_client, example_plugin_path):
    import mengchong_example

    settings = settings_from(
        profile,
        ratelimit={"per_ip": "3/minute"},
        events={"relay_interval_seconds": 60},  # the relay runs when a commit wakes it, or when asked
    )
    return await make_client(settings, [("example", mengchong_example)])


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus' text format, None when it is not there."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return None


async def metrics(client) -> str:
    return await (await client.get("/metrics")).text()


async def test_a_refusal_is_counted_under_the_limit_that_refused(client):
    statuses = [(await client.get("/v1/example/notes")).status for _ in range(4)]
    assert statuses[-1] == 429
    assert sample(await metrics(client), "mengchong_ratelimit_refusals_total", scope="ip") == 1.0


async def test_the_outbox_lag_is_the_age_of_the_oldest_waiting_event(client):
    app = client.server.app
    with app[database_key].activate():
        row = await OutboxEvent.create(event_id="late", name="nobody.listens", payload={})
        row.created_at = datetime.now(UTC) - timedelta(hours=1)
        await row.save(update_fields=["created_at"])
        await app[events_key].relay_once()  # sees it, then drops it: nobody subscribes
        lag = sample(await metrics(client), "mengchong_outbox_lag_seconds")
        assert lag is not None
        assert 3590 < lag < 3700
        await app[events_key].relay_once()  # nothing waits any more
    assert sample(await metrics(client), "mengchong_outbox_lag_seconds") == 0.0


def test_waited_seconds_reads_aware_naive_and_text_times():
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    for written in (an_hour_ago, an_hour_ago.replace(tzinfo=None), an_hour_ago.isoformat(" ")):
        assert 3599 < waited_seconds(written) < 3610
    assert waited_seconds(datetime.now(UTC) + timedelta(minutes=1)) == 0.0  # another clock ahead


async def test_every_consumers_queue_is_counted_by_state(client):
    app = client.server.app
    await count_queues(app)
    text = await metrics(client)
    queues = set(re.findall(r'mengchong_queue_messages\{queue="([^"]+)",state="ready"\}', text))
    assert "events.example.seen" in queues
    for state in ("ready", "waiting", "dead"):
        assert sample(text, "mengchong_queue_messages", queue="events.example.seen", state=state) == 0.0


async def test_the_process_reports_its_memory_and_cpu(client):
    text = await metrics(client)
    resident = sample(text, "process_resident_memory_bytes")
    assert resident is not None
    assert resident > 10 * 2**20
    assert sample(text, "process_cpu_seconds_total") is not None
