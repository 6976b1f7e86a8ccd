"""deploy/, the way to production, checked offline (no cluster, no Docker engine, no Prometheus).

- Every Kubernetes manifest validates against the Kubernetes JSON schemas (kubernetes-validate,
  strict: a misspelt or unknown field fails) of the oldest and the newest version we target.
- The Deployment is what the image needs: probes on /readyz and /healthz at the port the image
  listens on, the image's non-root uid, a read-only root filesystem with /app/data and /tmp
  writable, resources, a grace period longer than the app's graceful shutdown; the migration
  Job migrates, the replicas only serve; Service, PDB and HPA select and target those pods.
- deploy/compose.yaml runs the services profile: healthy PostgreSQL, Redis and RabbitMQ, then
  `migrate` once, then `serve`.
- Every MENGCHONG__ variable either sets is a real setting (the names `mengchong config
  --reference` prints, the plugins' sections included), and the values pass the app's own
  settings validation: with the Secret's placeholders the production app refuses to start.
- Every metric the Grafana dashboard and the Prometheus alert rules query is one the app
  exports at /metrics.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mengchong.config import ConfigError, Settings
from mengchong.config_loading import load_settings
from mengchong.config_reference import reference_table
from mengchong.http import health
from mengchong.plugin_manager import build_plugin_manager
from mengchong.tasks import STOP_GRACE_SECONDS
from support import settings_from

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
CONFIG = ROOT / "config.toml"  # what the image bakes in as /app/config.toml
DOCKERFILE = (ROOT / "Dockerfile").read_text()

# The oldest Kubernetes we support and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
MANIFEST_FILES = sorted(path.name for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")
NAMESPACE = "mengchong"
CLUSTER_SCOPED = {"Namespace"}
POSTGRES_MAX_CONNECTIONS = 100  # PostgreSQL's default max_connections

# What an operator puts in place of the placeholders: the production checks must then pass.
REAL_SECRET = "0123456789abcdef" * 4
COMPOSE_DOTENV = {
    "POSTGRES_PASSWORD": "pg" + REAL_SECRET[:20],
    "RABBITMQ_PASSWORD": "mq" + REAL_SECRET[:20],
    "MENGCHONG_JWT_SECRET": REAL_SECRET,
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": REAL_SECRET[:32],
}


# --- Reading the files ----------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBERNETES / name).read_text()) if doc]


def all_objects() -> Iterator[dict[str, Any]]:
    for name in MANIFEST_FILES:
        yield from documents(name)


def the_one(kind: str) -> dict[str, Any]:
    found = [obj for obj in all_objects() if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/kubernetes, found {len(found)}"
    return found[0]


def pod_spec(kind: str) -> dict[str, Any]:
    return the_one(kind)["spec"]["template"]["spec"]


def the_container(kind: str) -> dict[str, Any]:
    containers = pod_spec(kind)["containers"]
    assert len(containers) == 1
    return containers[0]


def config_env() -> dict[str, str]:
    return the_one("ConfigMap")["data"]


def secret_env() -> dict[str, str]:
    return the_one("Secret")["stringData"]


def dockerfile_user() -> tuple[int, int]:
    match = re.search(r"^USER\s+(\d+):(\d+)\s*$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile: no numeric USER uid:gid"
    return int(match[1]), int(match[2])


def dockerfile_port() -> int:
    match = re.search(r"^EXPOSE\s+(\d+)\s*$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile: no EXPOSE"
    return int(match[1])


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return float(quantity.removesuffix(unit)) * factor
    raise AssertionError(f"write memory as Ki, Mi or Gi: {quantity}")


def millicores(quantity: str) -> float:
    return float(quantity.removesuffix("m")) if quantity.endswith("m") else float(quantity) * 1000


# --- Settings: the names `mengchong config --reference` prints ---------------------------


@functools.cache
def setting_variables() -> frozenset[str]:
    """Every MENGCHONG__SECTION__KEY the app reads: the kernel's, from the table `mengchong config
    --reference` prints, and every installed plugin's, from the same function given its model."""
    pm, _ = build_plugin_manager(Settings(), enable_all=True)
    plugins = dict(declared for declared in pm.hook.mengchong_settings() if declared is not None)
    tables = reference_table() + "\n" + reference_table(plugins)
    return frozenset(re.findall(r"`(MENGCHONG__[A-Z0-9_]+)`", tables))


def replace_placeholders(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: value.replace("REPLACE_ME", REAL_SECRET) for name, value in environ.items()}


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


# --- Kubernetes: the schemas ---------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", MANIFEST_FILES)
def test_every_manifest_validates_strictly_against_the_kubernetes_schemas(name: str, version: str) -> None:
    objects = documents(name)
    assert objects, f"{name}: no object"
    for obj in objects:
        validated = kubernetes_validate.validate(obj, version, strict=True)
        assert validated == version.rsplit(".", 1)[0], f"{name}: validated against {validated}"


def test_strict_validation_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(the_one("Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_expected_objects_are_there() -> None:
    kinds = sorted(obj["kind"] for obj in all_objects())
    expected = [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "Namespace",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Secret",
        "Service",
    ]
    assert kinds == expected


def test_the_kustomization_lists_every_manifest_but_the_migration_job() -> None:
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert sorted(listed) == sorted(set(MANIFEST_FILES) - {"migrate-job.yaml"})
    assert the_one("Job")["metadata"]["name"] == "mengchong-migrate"


def test_every_namespaced_object_is_in_the_namespace() -> None:
    assert the_one("Namespace")["metadata"]["name"] == NAMESPACE
    for obj in all_objects():
        if obj["kind"] not in CLUSTER_SCOPED:
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{obj['kind']} {obj['metadata']['name']}"


# --- Kubernetes: the Deployment, the Job and what points at them -----------------------


def test_the_probes_ask_the_health_routes_on_the_named_port() -> None:
    container = the_container("Deployment")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] == "http", probe


def test_the_container_port_is_the_images_and_the_services_target() -> None:
    ports = {port["name"]: port["containerPort"] for port in the_container("Deployment")["ports"]}
    service = the_one("Service")["spec"]
    (service_port,) = service["ports"]
    assert ports["http"] == dockerfile_port()
    assert ports["http"] == int(config_env()["MENGCHONG__SERVER__PORT"])
    assert service["type"] == "ClusterIP"
    assert service_port["port"] == 80
    assert service_port["targetPort"] in {"http", ports["http"]}


def test_the_readiness_probe_waits_longer_than_the_backend_checks() -> None:
    timeout = the_container("Deployment")["readinessProbe"]["timeoutSeconds"]
    assert timeout > health.CHECK_TIMEOUT_SECONDS


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_the_pods_run_as_the_images_non_root_user_with_a_read_only_root(kind: str) -> None:
    uid, gid = dockerfile_user()
    pod = pod_spec(kind)["securityContext"]
    container = the_container(kind)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == uid
    assert pod["runAsGroup"] == gid
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["runAsNonRoot"] is True
    assert container["runAsUser"] == uid
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert pod_spec(kind)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_the_pods_have_resources_and_a_writable_tmp(kind: str) -> None:
    resources = the_container(kind)["resources"]
    assert mebibytes(resources["requests"]["memory"]) <= mebibytes(resources["limits"]["memory"])
    assert millicores(resources["requests"]["cpu"]) <= millicores(resources["limits"]["cpu"])
    mounts = {mount["mountPath"]: mount["name"] for mount in the_container(kind)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod_spec(kind)["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_the_replicas_memory_fits_the_measured_rss() -> None:
    resources = the_container("Deployment")["resources"]
    assert mebibytes(resources["requests"]["memory"]) >= 110  # measured: 92-110 MiB RSS under load
    assert mebibytes(resources["limits"]["memory"]) >= 110 + 140  # plus two photo decodes


def test_uploaded_files_are_on_a_volume_every_replica_shares() -> None:
    mounts = {mount["mountPath"]: mount["name"] for mount in the_container("Deployment")["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod_spec("Deployment")["volumes"]}
    claim = volumes[mounts["/app/data"]]["persistentVolumeClaim"]["claimName"]
    pvc = the_one("PersistentVolumeClaim")
    assert claim == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert config_env()["MENGCHONG__FILES__ROOT"].startswith("/app/data/")
    assert pod_spec("Deployment")["securityContext"]["fsGroup"] == dockerfile_user()[1]


def test_the_grace_period_outlasts_the_graceful_shutdown() -> None:
    spec = pod_spec("Deployment")
    pre_stop = the_container("Deployment")["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    shutdown = float(config_env()["MENGCHONG__SERVER__SHUTDOWN_TIMEOUT"])
    needed = float(pre_stop[1]) + shutdown + STOP_GRACE_SECONDS
    assert spec["terminationGracePeriodSeconds"] > needed


def test_the_job_migrates_and_the_replicas_only_serve_the_same_image() -> None:
    job = the_container("Job")
    deployment = the_container("Deployment")
    assert job["args"] == ["migrate"]
    assert deployment["args"] == ["serve"]
    assert job["image"] == deployment["image"]
    assert pod_spec("Job")["restartPolicy"] == "Never"
    for container in (job, deployment):
        sources = [next(iter(source.values()))["name"] for source in container["envFrom"]]
        assert sources == ["mengchong-config", "mengchong-secrets"]


def test_the_service_pdb_and_hpa_point_at_the_deployments_pods() -> None:
    deployment = the_one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert the_one("Service")["spec"]["selector"].items() <= labels.items()
    assert the_one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = the_one("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_there_are_always_two_replicas_and_never_too_many_database_connections() -> None:
    hpa = the_one("HorizontalPodAutoscaler")
    (metric,) = hpa["spec"]["metrics"]
    assert the_one("Deployment")["spec"]["replicas"] >= 2
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] >= 2
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert the_one("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    pool = int(config_env()["MENGCHONG__DATABASE__POOL_MAX"])
    assert hpa["spec"]["maxReplicas"] * pool < POSTGRES_MAX_CONNECTIONS


def test_prometheus_scrapes_the_metrics_route() -> None:
    annotations = the_one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == dockerfile_port()
    assert annotations["prometheus.io/path"] == "/metrics"


# --- Kubernetes: settings -------------------------------------------------------------------


def test_the_settings_names_are_checked_against_the_real_ones() -> None:
    assert "MENGCHONG__DATABASE__URL" in setting_variables()
    assert "MENGCHONG__PETS__PHOTO_DECODE_SLOTS" in setting_variables()  # a plugin's
    assert "MENGCHONG__DATABASE__URLS" not in setting_variables()


@pytest.mark.parametrize("source", ["ConfigMap", "Secret"])
def test_every_variable_is_a_real_setting(source: str) -> None:
    environ = config_env() if source == "ConfigMap" else secret_env()
    assert sorted(set(environ) - setting_variables()) == []


def test_credentials_are_in_the_secret_only() -> None:
    credentials = {
        "MENGCHONG__AUTH__JWT_SECRET",
        "MENGCHONG__WECHAT__SECRET",
        "MENGCHONG__DATABASE__URL",
        "MENGCHONG__CACHE__URL",
        "MENGCHONG__QUEUE__URL",
    }
    assert credentials <= set(secret_env())
    assert not credentials & set(config_env())
    assert all("REPLACE_ME" in value for value in secret_env().values())
    assert config_env()["MENGCHONG__APP__ENV"] == "production"


def test_the_production_app_refuses_to_start_on_the_placeholders() -> None:
    environ = {**config_env(), **secret_env()}
    with pytest.raises(ConfigError, match=r"^auth\.jwt_secret: production needs"):
        load_settings(str(CONFIG), environ=environ)


def test_the_settings_are_valid_once_the_placeholders_are_replaced() -> None:
    environ = replace_placeholders({**config_env(), **secret_env()})
    settings = load_settings(str(CONFIG), environ=environ)
    assert settings.app.env == "production"
    assert settings.wechat.mode == "live"
    assert urlsplit(settings.database.url).scheme == "postgres"
    assert urlsplit(settings.cache.url).scheme == "redis"
    assert urlsplit(settings.queue.url).scheme == "amqp"
    assert settings.server.port == dockerfile_port()


# --- compose.yaml ---------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<operator>:[-?])(?P<default>[^}]*))?\}")


def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose.yaml")


def interpolate(text: str, dotenv: Mapping[str, str]) -> str:
    """What `docker compose` makes of ${NAME}, ${NAME:-default} and ${NAME:?error}."""

    def value(match: re.Match[str]) -> str:
        if match["name"] in dotenv:
            return dotenv[match["name"]]
        if match["operator"] == ":-":
            return match["default"]
        raise KeyError(f"compose.yaml needs {match['name']}")

    return INTERPOLATION.sub(value, text)


def compose_environment(service: str) -> dict[str, str]:
    return {name: str(value) for name, value in compose()["services"][service]["environment"].items()}


def test_compose_runs_the_services_profile() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "rabbitmq", "migrate", "app"}
    for backing in ("postgres", "redis", "rabbitmq"):
        assert services[backing]["healthcheck"]["test"], backing
        volume = services[backing]["volumes"][0].split(":")[0]
        assert volume in compose()["volumes"], backing


def test_compose_migrates_once_before_it_serves() -> None:
    services = compose()["services"]
    app = services["app"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert app["command"] == ["serve"]
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for backing in ("postgres", "redis", "rabbitmq"):
        assert app["depends_on"][backing] == {"condition": "service_healthy"}, backing
    assert app["ports"] == [f"{dockerfile_port()}:{dockerfile_port()}"]


def test_compose_builds_the_repositorys_dockerfile_for_both() -> None:
    services = compose()["services"]
    for name in ("migrate", "app"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
        assert services[name]["read_only"] is True
        assert services[name]["image"] == services["app"]["image"]
    assert services["app"]["volumes"] == ["app-data:/app/data"]


@pytest.mark.parametrize("service", ["migrate", "app"])
def test_every_compose_variable_is_a_real_setting(service: str) -> None:
    assert sorted(set(compose_environment(service)) - setting_variables()) == []


def test_compose_documents_every_variable_it_needs() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    header = text.split("\nname:", 1)[0]
    needed = {match["name"] for match in INTERPOLATION.finditer(text)}
    assert sorted(name for name in needed if name not in header) == []


def test_compose_settings_are_valid_and_point_at_its_services() -> None:
    environ = {name: interpolate(value, COMPOSE_DOTENV) for name, value in compose_environment("app").items()}
    settings = load_settings(str(CONFIG), environ=environ)
    services = compose()["services"]
    assert settings.app.env == "production"
    assert urlsplit(settings.database.url).hostname in services
    assert urlsplit(settings.cache.url).hostname in services
    assert urlsplit(settings.queue.url).hostname in services
    assert settings.files.root.startswith("/app/data/")


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
