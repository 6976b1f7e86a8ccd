"""Prometheus metrics: a registry per app (two apps in one process never mix counts)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestLatency:
    """``mengchong_http_request_duration_seconds``: a Prometheus histogram by method, route
    template and status, kept as plain lists.

    prometheus_client's ``Histogram`` takes a lock and walks every bucket on each observation;
    this is observed only on the event loop's thread, so one ``bisect`` and two additions do.
    """

    name = "mengchong_http_request_duration_seconds"
    documentation = "Request latency by route template, method and status."

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        # per (method, route, status): a count per bucket, then +Inf, then the sum of seconds
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0.0] * (len(self.buckets) + 2)
        series[bisect_left(self.buckets, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=("method", "route", "status"))
        bounds = [*(floatToGoString(bound) for bound in self.buckets), "+Inf"]
        for (method, route, status), series in sorted(self._series.items()):
            cumulative = list(accumulate(series[:-1]))
            family.add_metric(
                [method, route, str(status)],
                buckets=list(zip(bounds, cumulative, strict=True)),
                sum_value=series[-1],
            )
        yield family

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=("method", "route", "status"))


class Metrics:
    """The kernel's metrics; plugins may register their own collectors on ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_latency = RequestLatency()
        self.registry.register(self.request_latency)
        self.observe_request = self.request_latency.observe
        self.events = Counter(
            "mengchong_events_total",
            "Domain events handled by subscribers, by event name, subscriber and outcome.",
            ("name", "subscriber", "outcome"),
            registry=self.registry,
        )
        self.task_restarts = Counter(
            "mengchong_task_restarts_total",
            "Background task restarts after a crash.",
            ("task",),
            registry=self.registry,
        )
        self.ratelimit_refusals = Counter(
            "mengchong_ratelimit_refusals_total",
            "Requests refused 429 by the rate limiter, by the limit that refused (ip or user).",
            ("scope",),
            registry=self.registry,
        )
        self.ratelimit_unlimited = Counter(
            "mengchong_ratelimit_unlimited_total",
            "Public reads served without their rate limit because the cache was unreachable"
            " (ratelimit.fail_open).",
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "mengchong_outbox_lag_seconds",
            "Age of the oldest event waiting in the outbox when the relay last looked (0: none).",
            registry=self.registry,
        )
        self.queue_messages = Gauge(
            "mengchong_queue_messages",
            "Messages in each consumer's queue by state (ready, waiting for a retry, dead), "
            "sampled every queue.depth_interval_seconds.",
            ("queue", "state"),
            registry=self.registry,
        )
        # process_resident_memory_bytes, process_cpu_seconds_total, open fds (Linux /proc)
        ProcessCollector(registry=self.registry)

    def render(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
