"""deploy/k8s rendered overlay by overlay and checked offline: every object against the
Kubernetes OpenAPI schemas (kubernetes-validate ships them), KEDA's custom resources against
the fields KEDA requires, and the cross-object facts an operator relies on (probes, hardening,
references, network isolation, scaling on the right queues, settings the services accept).

Rendering uses tests/support/kustomize.py (no kustomize binary on PyPI for Python 3.11);
where kubectl is installed, a test checks that real kustomize renders the same objects.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pydantic
import pytest
import yaml

from secmonkey.common.amqp import AUDITOR_QUEUE, NOTIFIER_QUEUE
from secmonkey.common.messages import SWEEPS_QUEUE
from tests.support import kustomize
from tests.unit.deploy._dockerfile import parse as parse_dockerfile
from tests.unit.deploy._settings import SERVICES, listen_variables, settings_classes

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
Object = dict[str, Any]

# The oldest Kubernetes minor the manifests promise to work on, and the newest schemas shipped.
K8S_VERSIONS = ("1.29", kubernetes_validate.latest_version())
HTTP_PORT = 8000
QUEUES = {
    "auditor": AUDITOR_QUEUE.name,
    "notifier": NOTIFIER_QUEUE.name,
    "collector": SWEEPS_QUEUE,
}
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
BASE_EGRESS = {(53, "UDP"), (53, "TCP"), (27017, "TCP"), (5672, "TCP"), (5671, "TCP")}
ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+$")


# What an operator puts in the Secrets that overlays/prod leaves to them (see the README):
# one per workload, each with that service's own users.
def _urls(user: str) -> dict[str, str]:
    return {
        "SECMONKEY_MONGO_URL": f"mongodb://{user}:Xk2v9q@mongo-0.mongo:27017/?replicaSet=rs0",
        "SECMONKEY_AMQP_URL": f"amqps://{user}:Zp4r8w@rabbitmq.data.svc:5671/",
    }


ENCRYPTION_KEYS = "fVbnnrqzS2BMyYgI6y-3E0rr0sRoHqgYEzBBgM3bXOg="
PROD_SECRETS = {
    "secmonkey-collector-secrets": _urls("secmonkey-collector")
    | {"SECMONKEY_ENCRYPTION_KEYS": ENCRYPTION_KEYS},
    "secmonkey-auditor-secrets": _urls("secmonkey-auditor"),
    "secmonkey-notifier-secrets": _urls("secmonkey-notifier")
    | {
        "SECMONKEY_SMTP_USERNAME": "AKIAEXAMPLEUSER",
        "SECMONKEY_SMTP_PASSWORD": "Q2hhbmdlZC1pbi1wcm9kdWN0aW9u",
        "SECMONKEY_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
    },
    "secmonkey-api-secrets": _urls("secmonkey-api")
    | {
        "SECMONKEY_BOOTSTRAP_ADMIN_KEY": "sm_3c1a8f0e5b7d4a2c9e6f1b3d5a7c9e0f",
        "SECMONKEY_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "SECMONKEY_CONSOLE_SECRET": "b7e4c1d9a2f84e6b9c3d5a7f1e2b4c6d8a9f0e1d",
    },
    "secmonkey-provision-secrets": _urls("admin"),
}


@dataclass(frozen=True)
class Overlay:
    name: str
    namespace: str
    keda: bool
    ingress: bool
    smtp_ports: frozenset[int]
    external: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def image(self, service: str) -> re.Pattern[str]:
        if self.name == "dev":
            return re.compile(rf"^secmonkey/{service}:dev$")
        return re.compile(rf"^[\w.-]+\.[a-z]+(:\d+)?/[\w./-]*{service}:(?!latest$)[\w.-]+$")


OVERLAYS = {
    "dev": Overlay("dev", "secmonkey-dev", keda=False, ingress=False, smtp_ports=frozenset({1025})),
    "prod": Overlay(
        "prod",
        "secmonkey",
        keda=True,
        ingress=True,
        smtp_ports=frozenset({25, 465, 587}),
        # Created outside the overlay: the Secrets and the certificate (cert-manager).
        external=frozenset(
            {("Secret", name) for name in PROD_SECRETS} | {("Secret", "secmonkey-api-tls")}
        ),
    ),
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Object]]:
    return {name: kustomize.build(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(params=sorted(OVERLAYS))
def overlay(request: pytest.FixtureRequest) -> Overlay:
    return OVERLAYS[request.param]


@pytest.fixture
def objects(rendered: dict[str, list[Object]], overlay: Overlay) -> list[Object]:
    return rendered[overlay.name]


def find(objects: list[Object], kind: str, name: str | None = None) -> list[Object]:
    return [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objects: list[Object], kind: str, name: str) -> Object:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def deployment(objects: list[Object], service: str) -> Object:
    return one(objects, "Deployment", f"secmonkey-{service}")


def container(objects: list[Object], service: str) -> Object:
    containers = deployment(objects, service)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == [service]
    result: Object = containers[0]
    return result


def pod_labels(workload: Object) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: Object, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def quantity(value: str | int) -> Fraction:
    """A Kubernetes resource quantity (`250m`, `1`, `512Mi`, `1Gi`) as a number."""
    text = str(value)
    suffixes = {"m": Fraction(1, 1000), "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3}
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return Fraction(text[: -len(suffix)]) * factor
    return Fraction(text)


# --- schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(
    objects: list[Object], version: str
) -> None:
    """Strict: an unknown or misspelt field is an error, as `kubectl apply --validate` says."""
    for obj in objects:
        if obj["kind"] in KEDA_KINDS:
            continue  # not in the Kubernetes schemas: see the KEDA test
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} at {where}: {exc.message}")


def test_base_and_components_alone_are_valid() -> None:
    objects = kustomize.build(K8S / "base")
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "NetworkPolicy"}


# KEDA 2.x: the fields its CRDs require and the ones these manifests use (additional fields
# refused so that a typo such as `minReplicas` fails here rather than at apply time).
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string", "minLength": 1},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "fallback": {"type": "object"},
                "advanced": {"type": "object"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            # KEDA reads trigger metadata as a map of strings.
                            "metadata": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "kind": {
                                        "enum": [
                                            "TriggerAuthentication",
                                            "ClusterTriggerAuthentication",
                                        ]
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
TRIGGER_AUTHENTICATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["parameter", "name", "key"],
                        "additionalProperties": False,
                        "properties": {
                            "parameter": {"type": "string"},
                            "name": {"type": "string"},
                            "key": {"type": "string"},
                        },
                    },
                },
                "env": {"type": "array"},
                "podIdentity": {"type": "object"},
            },
        },
    },
}
# RabbitMQ scaler metadata (https://keda.sh/docs/latest/scalers/rabbitmq-queue/).
RABBITMQ_METADATA = {
    "type": "object",
    "required": ["queueName", "mode", "value"],
    "additionalProperties": False,
    "properties": {
        "protocol": {"enum": ["amqp", "http", "auto"]},
        "mode": {"enum": ["QueueLength", "MessageRate"]},
        "value": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
        "activationValue": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
        "queueName": {"type": "string", "minLength": 1},
        "vhostName": {"type": "string"},
        "unsafeSsl": {"type": "string"},
    },
}


def test_keda_objects_have_the_fields_keda_requires(objects: list[Object]) -> None:
    for obj in find(objects, "ScaledObject"):
        jsonschema.validate(obj, SCALED_OBJECT)
        spec = obj["spec"]
        assert spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 100)
        for trigger in spec["triggers"]:
            assert trigger["type"] == "rabbitmq"
            jsonschema.validate(trigger["metadata"], RABBITMQ_METADATA)
            # The AMQP URL carries credentials: never inline, always from the Secret.
            assert "authenticationRef" in trigger
    for obj in find(objects, "TriggerAuthentication"):
        jsonschema.validate(obj, TRIGGER_AUTHENTICATION)


# --- scaling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(QUEUES))
def test_each_consumer_scales_on_its_own_queue(
    objects: list[Object], overlay: Overlay, service: str
) -> None:
    scaled = [
        o
        for o in find(objects, "ScaledObject")
        if o["spec"]["scaleTargetRef"]["name"] == f"secmonkey-{service}"
    ]
    if not overlay.keda:
        # Without KEDA each consumer runs a fixed replica.
        assert not scaled and deployment(objects, service)["spec"]["replicas"] >= 1
        return
    assert len(scaled) == 1, f"{service}: {len(scaled)} ScaledObjects"
    spec = scaled[0]["spec"]
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    deployment(objects, service)
    [trigger] = spec["triggers"]
    assert trigger["metadata"]["queueName"] == QUEUES[service]
    assert trigger["metadata"]["mode"] == "QueueLength"
    # At least one replica always: the collector holds the scheduler lease, and a cold
    # auditor or notifier would delay the first alert by a scale-up.
    assert spec["minReplicaCount"] >= 1
    auth = one(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    [ref] = auth["spec"]["secretTargetRef"]
    assert ref == {
        "parameter": "host",
        "name": "secmonkey-collector-secrets",
        "key": "SECMONKEY_AMQP_URL",
    }


def test_the_api_scales_with_a_cpu_hpa(objects: list[Object]) -> None:
    [hpa] = find(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "secmonkey-api",
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_autoscaled_deployments_do_not_pin_replicas(objects: list[Object]) -> None:
    """A fixed `replicas` fights the autoscaler: every apply would reset the count."""
    targets = [o["spec"]["scaleTargetRef"]["name"] for o in find(objects, "ScaledObject")]
    targets += [
        o["spec"]["scaleTargetRef"]["name"] for o in find(objects, "HorizontalPodAutoscaler")
    ]
    assert len(targets) == len(set(targets)), f"two autoscalers on one Deployment: {targets}"
    for name in targets:
        assert "replicas" not in one(objects, "Deployment", name)["spec"], name


# --- pods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_probes_ask_healthz_and_readyz_on_the_service_port(
    objects: list[Object], service: str
) -> None:
    c = container(objects, service)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": HTTP_PORT}
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        get = c[probe]["httpGet"]
        assert get["path"] == path, f"{service} {probe}"
        assert ports.get(get["port"], get["port"]) == HTTP_PORT, f"{service} {probe}"


@pytest.mark.parametrize("service", SERVICES)
def test_pods_run_non_root_on_a_read_only_filesystem(objects: list[Object], service: str) -> None:
    image_uid = int(parse_dockerfile(ROOT / "deploy/docker/Dockerfile")[service].user.split(":")[0])  # type: ignore[union-attr]
    pod = deployment(objects, service)["spec"]["template"]["spec"]
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == image_uid != 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    c = container(objects, service)["securityContext"]
    assert c["readOnlyRootFilesystem"] is True
    assert c["allowPrivilegeEscalation"] is False
    assert c["capabilities"] == {"drop": ["ALL"]}
    # A read-only root still needs a writable /tmp (tempfile, boto3, jinja2 caches).
    mounts = {m["mountPath"]: m["name"] for m in container(objects, service)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("service", SERVICES)
def test_pods_request_and_limit_cpu_and_memory(objects: list[Object], service: str) -> None:
    resources = container(objects, service)["resources"]
    for resource in ("cpu", "memory"):
        request = quantity(resources["requests"][resource])
        limit = quantity(resources["limits"][resource])
        assert 0 < request <= limit, f"{service} {resource}: {request} > {limit}"


@pytest.mark.parametrize("service", SERVICES)
def test_images_are_the_overlays_own(objects: list[Object], overlay: Overlay, service: str) -> None:
    image = container(objects, service)["image"]
    assert overlay.image(service).match(image), f"{overlay.name}: {service} runs {image}"


def test_only_the_collector_carries_the_aws_role(objects: list[Object]) -> None:
    account = one(objects, "ServiceAccount", "secmonkey-collector")
    assert ROLE_ARN.match(account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
    for service in SERVICES:
        name = deployment(objects, service)["spec"]["template"]["spec"]["serviceAccountName"]
        if service == "collector":
            assert name == "secmonkey-collector"
        else:
            assert "eks.amazonaws.com/role-arn" not in (
                one(objects, "ServiceAccount", name)["metadata"].get("annotations") or {}
            )


# --- references and placement -------------------------------------------------------------------


def test_every_reference_points_at_a_rendered_object(
    objects: list[Object], overlay: Overlay
) -> None:
    present = {(o["kind"], o["metadata"]["name"]) for o in objects} | overlay.external

    def need(kind: str, name: str, where: str) -> None:
        assert (kind, name) in present, f"{where} refers to {kind}/{name}, which is not there"

    for workload in find(objects, "Deployment") + find(objects, "Job"):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        pod = workload["spec"]["template"]["spec"]
        if "selector" in workload["spec"]:
            assert selects(workload["spec"]["selector"], pod_labels(workload)), where
        if "serviceAccountName" in pod:
            need("ServiceAccount", pod["serviceAccountName"], where)
        for c in pod["containers"]:
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    need("ConfigMap", source["configMapRef"]["name"], where)
                if "secretRef" in source:
                    need("Secret", source["secretRef"]["name"], where)
            for item in c.get("env", []):
                if "secretKeyRef" in item.get("valueFrom", {}):
                    need("Secret", item["valueFrom"]["secretKeyRef"]["name"], where)
    for scaler in find(objects, "ScaledObject") + find(objects, "HorizontalPodAutoscaler"):
        need("Deployment", scaler["spec"]["scaleTargetRef"]["name"], scaler["kind"])
    for auth in find(objects, "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            need("Secret", ref["name"], "TriggerAuthentication")
    deployments = find(objects, "Deployment")
    for service in find(objects, "Service"):
        matched = [
            d
            for d in deployments
            if selects({"matchLabels": service["spec"]["selector"]}, pod_labels(d))
        ]
        assert len(matched) == 1, f"Service/{service['metadata']['name']} selects {len(matched)}"
        port_names = {
            p["name"]
            for c in matched[0]["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert isinstance(target, int) or target in port_names, f"targetPort {target}"
    for budget in find(objects, "PodDisruptionBudget"):
        matched = [d for d in deployments if selects(budget["spec"]["selector"], pod_labels(d))]
        assert len(matched) == 1, f"PDB/{budget['metadata']['name']} selects {len(matched)}"
    for ingress in find(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = one(objects, "Service", backend["name"])
                assert backend["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}
        for tls in ingress["spec"].get("tls", []):
            need("Secret", tls["secretName"], "Ingress")


def test_every_service_has_a_disruption_budget(objects: list[Object]) -> None:
    for service in SERVICES:
        budget = one(objects, "PodDisruptionBudget", f"secmonkey-{service}")
        assert selects(budget["spec"]["selector"], pod_labels(deployment(objects, service)))
        # maxUnavailable, so a single replica never blocks a node drain.
        assert budget["spec"] == {**budget["spec"], "maxUnavailable": 1}


def test_everything_lands_in_the_overlays_namespace(
    objects: list[Object], overlay: Overlay
) -> None:
    [namespace] = find(objects, "Namespace")
    assert namespace["metadata"]["name"] == overlay.namespace
    assert "pod-security.kubernetes.io/enforce" in namespace["metadata"]["labels"]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == overlay.namespace, obj["metadata"]["name"]


def test_only_the_api_is_exposed(objects: list[Object], overlay: Overlay) -> None:
    services = find(objects, "Service")
    ours = [s for s in services if s["metadata"]["name"].startswith("secmonkey-")]
    assert [s["metadata"]["name"] for s in ours] == ["secmonkey-api"]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)
    ingresses = find(objects, "Ingress")
    assert len(ingresses) == (1 if overlay.ingress else 0)
    for ingress in ingresses:
        paths = {p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
        assert "/metrics" not in paths and "/" not in paths, "operations endpoints stay inside"


# --- network policies ---------------------------------------------------------------------------


def policies_for(objects: list[Object], labels: dict[str, str]) -> list[Object]:
    return [p for p in find(objects, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]


@pytest.mark.parametrize("service", SERVICES)
def test_network_policies_isolate_each_service(
    objects: list[Object], overlay: Overlay, service: str
) -> None:
    labels = pod_labels(deployment(objects, service))
    policies = policies_for(objects, labels)
    # Default deny in both directions.
    assert any(
        set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ), f"{service}: no default-deny policy selects it"

    # In: from anywhere only to the API's port; otherwise only Prometheus from `monitoring`.
    open_ports: set[str] = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            if not rule.get("from"):
                open_ports |= {str(p["port"]) for p in rule["ports"]}
                continue
            for peer in rule["from"]:
                assert peer == {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }, f"{service}: ingress from {peer}"
    assert open_ports == ({"http"} if service == "api" else set()), f"{service}: {open_ports}"

    # Out: DNS, MongoDB, RabbitMQ; HTTPS (not link-local) for AWS and webhooks; SMTP.
    allowed: set[tuple[int, str]] = set()
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            ports = {(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]}
            allowed |= ports
            if (443, "TCP") in ports:
                blocks = [peer["ipBlock"] for peer in rule["to"]]
                assert len(blocks) == len(rule["to"]), "443 only to IP blocks"
                assert any("169.254.0.0/16" in b.get("except", []) for b in blocks), (
                    "instance metadata must stay unreachable"
                )
            else:
                assert not rule.get("to"), f"{service}: unexpected egress peers {rule['to']}"
    expected = set(BASE_EGRESS)
    if service in {"collector", "notifier"}:
        expected.add((443, "TCP"))
    if service == "notifier":
        expected |= {(port, "TCP") for port in overlay.smtp_ports}
    assert allowed == expected, f"{service}: egress {sorted(allowed)}"


# --- settings -----------------------------------------------------------------------------------


def container_env(
    objects: list[Object], service: str, secrets: dict[str, dict[str, str]]
) -> dict[str, str]:
    """What the service's process sees: image ENV, then envFrom, then env (Kubernetes order)."""
    env = dict(parse_dockerfile(ROOT / "deploy/docker/Dockerfile")[service].env)
    c = container(objects, service)
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            env |= one(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
        if "secretRef" in source:
            env |= secrets[source["secretRef"]["name"]]
    env |= {item["name"]: item["value"] for item in c.get("env", [])}
    return env


def overlay_secrets(objects: list[Object], overlay: Overlay) -> dict[str, dict[str, str]]:
    if overlay.name == "prod":
        for name in PROD_SECRETS:
            assert not find(objects, "Secret", name), f"the overlay must not apply {name}"
        return PROD_SECRETS
    return {s["metadata"]["name"]: s["stringData"] for s in find(objects, "Secret")}


def with_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("SECMONKEY_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))


@pytest.mark.parametrize("service", SERVICES)
def test_services_accept_the_overlays_settings(
    objects: list[Object], overlay: Overlay, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(objects, service, overlay_secrets(objects, overlay))
    classes = settings_classes()
    unknown = {k for k in env if k.startswith("SECMONKEY_")} - {
        f"SECMONKEY_{f.upper()}" for cls in classes.values() for f in cls.model_fields
    }
    # The per-service listen variables are set for all four in the image; the rest must exist.
    unknown -= {f"SECMONKEY_{s.upper()}_{p}" for s in SERVICES for p in ("HOST", "PORT")}
    assert not unknown, f"no service reads {sorted(unknown)}"
    with_env(monkeypatch, env)
    cls = classes.get(service, classes["common"])
    settings = cls()
    assert settings.environment == ("development" if overlay.name == "dev" else "production")
    assert settings.log_json is True
    # It listens where the probes and the Service look: every interface, port 8000.
    for pair in listen_variables(service):
        host, port = (name.removeprefix("SECMONKEY_").lower() for name in pair)
        assert (getattr(settings, host), getattr(settings, port)) == ("0.0.0.0", HTTP_PORT)


@pytest.mark.parametrize("service", ["notifier", "api"])
def test_the_base_placeholders_are_refused_in_production(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applying the base by mistake fails at start rather than running with `change-me`."""
    objects = kustomize.build(K8S / "base")
    for obj in objects:
        obj["metadata"]["namespace"] = "default"
    secrets = {s["metadata"]["name"]: s["stringData"] for s in find(objects, "Secret")}
    with_env(monkeypatch, container_env(objects, service, secrets))
    cls = settings_classes()[service]
    with pytest.raises(pydantic.ValidationError, match="SECMONKEY_"):
        cls()


def test_the_readme_creates_every_key_of_every_secret() -> None:
    secrets = {
        s["metadata"]["name"]: s["stringData"]
        for s in find(kustomize.build(K8S / "base"), "Secret")
    }
    assert set(secrets) == set(PROD_SECRETS)
    readme = (K8S / "README.md").read_text()
    for name, keys in secrets.items():
        command = readme.split(f"create secret generic {name} ", 1)
        assert len(command) == 2, f"the README does not create {name}"
        block = command[1].split("\n\n", 1)[0]
        for key in keys:
            assert f"--from-literal={key}=" in block, f"README's {name} command lacks {key}"
        assert set(keys) == set(PROD_SECRETS[name]), name


# --- the renderer against real kustomize --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_renderer_agrees_with_kubectl_kustomize(
    rendered: dict[str, list[Object]], name: str
) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the cross-check with real kustomize did not run")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / name)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    real = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(out) if o}
    ours = {(o["kind"], o["metadata"]["name"]): o for o in rendered[name]}
    assert set(ours) == set(real)
    for key, obj in real.items():
        assert ours[key] == obj, f"{key} differs from kubectl kustomize's rendering"


# --- least privilege: per-service Secrets and the provisioning Job -----------------------------


def secret_names(workload: Object) -> set[str]:
    names = set()
    for c in workload["spec"]["template"]["spec"]["containers"]:
        names |= {s["secretRef"]["name"] for s in c.get("envFrom", []) if "secretRef" in s}
        names |= {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_mounts_only_its_own_secret(objects: list[Object], service: str) -> None:
    """A compromised pod holds only its own service's credentials."""
    assert secret_names(deployment(objects, service)) == {f"secmonkey-{service}-secrets"}


def test_only_the_api_holds_the_bootstrap_key_and_only_the_notifier_smtp() -> None:
    for name, keys in PROD_SECRETS.items():
        assert ("SECMONKEY_BOOTSTRAP_ADMIN_KEY" in keys) == (name == "secmonkey-api-secrets")
        assert ("SECMONKEY_SMTP_PASSWORD" in keys) == (name == "secmonkey-notifier-secrets")


def test_production_services_only_check_what_provisioning_made(
    objects: list[Object], overlay: Overlay
) -> None:
    config = one(objects, "ConfigMap", "secmonkey-config")["data"]
    expected = "true" if overlay.name == "dev" else "false"
    assert config["SECMONKEY_DECLARE_AT_START"] == expected


def test_the_provisioning_job_holds_the_admin_credentials_alone(
    objects: list[Object], overlay: Overlay
) -> None:
    job = one(objects, "Job", "secmonkey-provision")
    pod = job["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["command"] == ["python", "-m", "secmonkey.common.provision"]
    assert overlay.image("api").match(c["image"]), c["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    # every service's user comes from that service's own Secret
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
    for service in SERVICES:
        for kind in ("MONGO", "AMQP"):
            ref = env[f"SECMONKEY_PROVISION_{service.upper()}_{kind}_URL"]
            assert ref == {"name": f"secmonkey-{service}-secrets", "key": f"SECMONKEY_{kind}_URL"}
    mounting = [
        w["metadata"]["name"]
        for w in find(objects, "Deployment") + find(objects, "Job")
        if "secmonkey-provision-secrets" in secret_names(w)
    ]
    assert mounting == ["secmonkey-provision"]
    # it runs again on the next apply once finished (Jobs are immutable)
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_the_provisioning_job_settings_are_read(
    objects: list[Object], overlay: Overlay, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secmonkey.common.provision import ProvisionSettings

    job = one(objects, "Job", "secmonkey-provision")
    [c] = job["spec"]["template"]["spec"]["containers"]
    secrets = overlay_secrets(objects, overlay)
    env: dict[str, str] = {}
    for source in c["envFrom"]:
        if "configMapRef" in source:
            env |= one(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
        else:
            env |= secrets[source["secretRef"]["name"]]
    for item in c["env"]:
        ref = item["valueFrom"]["secretKeyRef"]
        env[item["name"]] = secrets[ref["name"]][ref["key"]]
    with_env(monkeypatch, env)
    settings = ProvisionSettings()
    assert settings.mongo_url == secrets["secmonkey-provision-secrets"]["SECMONKEY_MONGO_URL"]
    assert settings.rabbitmq_users == ("none" if overlay.name == "dev" else "management")
    assert settings.api_amqp_url == secrets["secmonkey-api-secrets"]["SECMONKEY_AMQP_URL"]
