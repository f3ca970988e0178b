"""`deploy/` renders with kubectl's kustomize, every rendered object (and the example Secrets,
which are not rendered) validates against the Kubernetes schemas, the workers' StatefulSet
and the API's Deployment run as the image's user, without a kubeconfig, with the Secrets and
the Lease namespace the rest of the manifests expect, and the API's probes and Service reach
`slipway serve` where it listens."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Final

import kubernetes_validate
import pytest
import yaml
from tests.support.deploy import DEPLOY, find, render

from slipway.config import Settings
from slipway.pipeline.runtime import DRAIN_SECONDS

K8S_VERSION: Final = "1.30"  # the oldest Kubernetes Slipway supports (aggregated discovery)
DOCKERFILE: Final = DEPLOY.parent / "Dockerfile"


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render()


# The two workloads: every process of an installation is one of these, and both run as the
# same user with the same Secrets.
WORKLOADS: Final = {
    "worker": ("StatefulSet", "slipway-worker"),
    "api": ("Deployment", "slipway-api"),
}


def _worker(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "StatefulSet", "slipway-worker")


@pytest.fixture(params=sorted(WORKLOADS))
def workload(request: pytest.FixtureRequest, rendered: list[dict[str, Any]]) -> dict[str, Any]:
    kind, name = WORKLOADS[request.param]
    return find(rendered, kind, name)


def test_every_rendered_object_validates(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in rendered)
    assert kinds == [
        "ClusterRole/slipway",
        "ClusterRoleBinding/slipway",
        "Deployment/slipway-api",
        "Namespace/slipway-system",
        "Role/slipway-flux-controllers",
        "Role/slipway-sync-lease",
        "RoleBinding/slipway-flux-controllers",
        "RoleBinding/slipway-sync-lease",
        "Service/slipway-api",
        "Service/slipway-worker",
        "ServiceAccount/slipway",
        "StatefulSet/slipway-worker",
    ]
    examples = list(yaml.safe_load_all((DEPLOY / "secret.example.yaml").read_text()))
    for obj in [*rendered, *examples]:
        kubernetes_validate.validate(copy.deepcopy(obj), K8S_VERSION, strict=True)


def test_the_validation_is_not_vacuous(rendered: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(_worker(rendered))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_each_workload_runs_locked_down_as_the_images_user(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    uid = re.search(r"--uid (\d+)", DOCKERFILE.read_text())
    assert uid is not None
    assert pod["securityContext"]["runAsUser"] == int(uid.group(1))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"requests", "limits"} <= set(container["resources"])
    # What Slipway writes (its data dir, /tmp) is an emptyDir; nothing else is writable.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    data_dir = re.search(r"SLIPWAY_DATA_DIR=(\S+)", DOCKERFILE.read_text())
    assert data_dir is not None
    assert set(mounts) == {data_dir.group(1), "/tmp"}
    assert all("emptyDir" in v for v in pod["volumes"])
    # The stop (heartbeat, drain, Lease release) fits in the grace period.
    assert pod["terminationGracePeriodSeconds"] >= 5 + DRAIN_SECONDS + 5


def test_each_workload_finds_its_secrets_lease_and_cluster(
    workload: dict[str, Any], rendered: list[dict[str, Any]]
) -> None:
    pod = workload["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    examples = {
        o["metadata"]["name"]: o
        for o in yaml.safe_load_all((DEPLOY / "secret.example.yaml").read_text())
    }
    for variable in ("SLIPWAY_DATABASE_URL", "SLIPWAY_SECRET_KEY"):
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert ref["key"] in examples[ref["name"]]["stringData"], variable
        assert examples[ref["name"]]["metadata"]["namespace"] == "slipway-system"
    # No kubeconfig: the pod's service account (in-cluster configuration).
    assert not {"KUBECONFIG", "K3S_KUBECONFIG_PATH", "SLIPWAY_KUBECONFIG"} & set(env)
    account = find(rendered, "ServiceAccount", "slipway")["metadata"]
    assert (pod["serviceAccountName"], account["namespace"]) == ("slipway", "slipway-system")
    assert pod.get("automountServiceAccountToken", True) is True
    lease_role = find(rendered, "Role", "slipway-sync-lease")
    assert env["SLIPWAY_LEASE_NAMESPACE"]["value"] == lease_role["metadata"]["namespace"]
    assert lease_role["metadata"]["namespace"] == Settings.model_fields["lease_namespace"].default


def test_the_workers_are_a_statefulset_of_slipway_worker(rendered: list[dict[str, Any]]) -> None:
    statefulset = _worker(rendered)
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    assert statefulset["spec"]["replicas"] == 2
    assert statefulset["spec"]["serviceName"] == "slipway-worker"


def test_the_api_is_probed_and_reached_where_slipway_serve_listens(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = find(rendered, "Deployment", "slipway-api")
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    args = container["args"]
    assert args[0] == "serve"
    assert args[args.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (reachable from the Service)
    port = int(args[args.index("--port") + 1])
    (declared,) = container["ports"]
    assert declared["containerPort"] == port

    def probed(probe: str) -> tuple[str, int]:
        get = container[probe]["httpGet"]
        target = get["port"]
        return get["path"], declared["containerPort"] if target == declared["name"] else target

    assert probed("readinessProbe") == ("/readyz", port)
    assert probed("livenessProbe") == ("/healthz", port)
    assert probed("startupProbe") == ("/healthz", port)

    service = find(rendered, "Service", "slipway-api")
    (exposed,) = service["spec"]["ports"]
    assert (exposed["name"], exposed["port"]) == ("http", 80)
    assert exposed["targetPort"] in (declared["name"], port)
    # The Service selects the API's pods, and only them (not the workers, which serve none).
    labels = template["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector.items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    worker_labels = _worker(rendered)["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= worker_labels.items()


def test_the_example_secrets_are_never_applied() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kustomization["resources"]
    assert "secretGenerator" not in kustomization
    listed = {Path(p).name for p in kustomization["resources"]}
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {
        "kustomization.yaml",
        "secret.example.yaml",
    }
