"""deploy/grafana and deploy/prometheus, checked offline (no Prometheus): every metric the
dashboard and the alert rules query is one the app exports at /metrics, and every alert rule is
complete.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from deploy_support import DEPLOY, load_yaml
from prometheus_client.parser import text_string_to_metric_families

from mengchong.http import health
from support import settings_from

# --- Metrics: what the app exports and what PromQL asks for -------------------------------

PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_WORDS |= {"offset", "bool", "inf", "nan"}
METRIC_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def exported_names(exposition: str) -> set[str]:
    """Every series name the exposition can hold: those it holds, and each family's name with its
    type's suffixes (a counter nothing has incremented yet has no sample)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        base = family.name.removesuffix("_total")
        names.update(base + suffix for suffix in METRIC_SUFFIXES.get(family.type, ("",)))
    return names


def promql_metrics(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are neither functions, keywords,
    nor label names (matchers, ranges and `by (...)` lists are dropped first)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        is_function = expr[match.end() :].lstrip().startswith("(")
        if not is_function and match[0].lower() not in PROMQL_WORDS:
            names.add(match[0])
    return names


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "mengchong.json").read_text())


def dashboard_queries() -> list[str]:
    panels = dashboard()["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for group in load_yaml(DEPLOY / "prometheus" / "alerts.yaml")["groups"]
        for rule in group["rules"]
    ]


@pytest.fixture
async def exported(
    make_client: Callable[..., Awaitable[TestClient]], sqlite_template: str, tmp_path: Path
) -> set[str]:
    """The series names of an app on the embedded profile, after requests gave its histogram
    labelled series (a route, an unknown path, the health routes)."""
    database = tmp_path / "mengchong.sqlite3"
    shutil.copyfile(sqlite_template, database)
    settings = settings_from(
        {
            "app": {"env": "test"},
            "database": {"url": f"sqlite://{database}"},
            "files": {"root": str(tmp_path / "files")},
            "server": {"access_log": False},
        }
    )
    client = await make_client(settings)
    for path in ("/healthz", "/readyz", "/v1/no-such-route", "/v1/users/profile"):
        await client.get(path)
    response = await client.get("/metrics")
    assert response.status == 200
    return exported_names(await response.text())


# --- The dashboard and the alert rules ------------------------------------------------------


def test_the_promql_reader_finds_metrics_and_only_metrics() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route!~"/x|y"}[$__rate_interval])))'
        " / on (route) group_left b_total > bool 1"
    )
    assert promql_metrics(expr) == {"a_bucket", "b_total"}


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    board = dashboard()
    ids = [panel["id"] for panel in board["panels"]]
    assert board["uid"] == "mengchong"
    assert len(ids) == len(set(ids))
    assert dashboard_queries()
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["type"] == "prometheus", panel["title"]


def test_the_dashboard_shows_latency_percentiles_from_the_histogram() -> None:
    queries = "\n".join(dashboard_queries())
    buckets = "rate(mengchong_http_request_duration_seconds_bucket{"
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) ({buckets}" in queries, quantile


async def test_every_metric_the_dashboard_queries_is_exported(exported: set[str]) -> None:
    assert "mengchong_http_request_duration_seconds_bucket" in exported
    variables = dashboard()["templating"]["list"]
    queries = [*dashboard_queries(), *(v["definition"] for v in variables if v["type"] == "query")]
    for expr in queries:
        used = promql_metrics(re.sub(r"^label_values\((\w+),.*\)$", r"\1", expr))
        assert used, expr
        assert sorted(used - exported) == [], expr


def test_every_alert_rule_is_complete() -> None:
    rules = alert_rules()
    assert rules
    for rule in rules:
        assert rule["alert"].startswith("Mengchong"), rule
        assert rule["expr"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_the_http_alerts_leave_the_probes_out() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    health_routes = "|".join(route.path for route in health.routes)
    for alert in ("MengchongHighErrorRate", "MengchongHighLatencyP99"):
        assert f'route!~"{health_routes}"' in exprs[alert], alert
    assert "histogram_quantile(0.99," in exprs["MengchongHighLatencyP99"]


async def test_every_metric_the_alerts_query_is_exported(exported: set[str]) -> None:
    for rule in alert_rules():
        used = promql_metrics(rule["expr"])
        assert used, rule["alert"]
        assert sorted(used - exported) == [], rule["alert"]
