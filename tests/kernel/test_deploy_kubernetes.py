"""deploy/kubernetes, checked offline (no cluster): every manifest validates against the
Kubernetes JSON schemas (kubernetes-validate, strict: a misspelt or unknown field fails) of the
oldest and the newest version we target; the Deployment is what the image needs (probes on
/readyz and /healthz at the port the image listens on, the image's non-root uid, a read-only
root filesystem with /app/data and /tmp writable, resources, a grace period longer than the
app's graceful shutdown); the migration Job migrates, the replicas only serve; Service, PDB and
HPA select and target those pods; every MENGCHONG__ variable is a real setting and, with the
Secret's placeholders, the production app refuses to start.
"""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
from deploy_support import (
    CLUSTER_SCOPED,
    CONFIG,
    KUBERNETES,
    KUBERNETES_VERSIONS,
    MANIFEST_FILES,
    NAMESPACE,
    POSTGRES_MAX_CONNECTIONS,
    all_objects,
    config_env,
    dockerfile_port,
    dockerfile_user,
    documents,
    load_yaml,
    mebibytes,
    millicores,
    pod_spec,
    replace_placeholders,
    secret_env,
    setting_variables,
    the_container,
    the_one,
)

from mengchong.config import ConfigError
from mengchong.config_loading import load_settings
from mengchong.http import health
from mengchong.tasks import STOP_GRACE_SECONDS

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
