"""Deployments get the status kube-controller-manager's deployment controller writes: real
kubectl waits for the rollout, and an image ending in `:broken` exceeds its progress
deadline."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment

from slipway.sandbox.kube import KubeEmulator

KUBECTL = str(Path(".venv/bin/kubectl").resolve())


def _deployment(name: str, namespace: str, image: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            **spec,
        },
    }


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj["status"]["conditions"]}


def _wait_for(kube: KubeEmulator, name: str, namespace: str, reason: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        obj = kube.get("apps/v1", "Deployment", name, namespace) or {}
        if reason in {r for _, r in _conditions(obj).values()} if obj.get("status") else False:
            return obj
        time.sleep(0.05)
    raise TimeoutError(f"Deployment {namespace}/{name} never reached {reason}")


async def test_a_deployment_rolls_out_and_kubectl_sees_it(
    kube: KubeEmulator, client: AsyncClient, namespace: str, kubeconfig: Path
) -> None:
    with kube.recording() as log:
        created = Deployment.from_dict(_deployment("web", namespace, "nginx:1.27"))
        assert isinstance(created, Deployment)
        await client.create(created)
        started = (await client.get(Deployment, "web", namespace=namespace)).to_dict()
        rollout = subprocess.run(
            [
                KUBECTL,
                "--kubeconfig",
                str(kubeconfig),
                "rollout",
                "status",
                "-n",
                namespace,
                "deployment/web",
                "--timeout=10s",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert rollout.returncode == 0, rollout.stderr
    assert 'deployment "web" successfully rolled out' in rollout.stdout
    if "status" in started:  # the controller may already have written its first status
        assert _conditions(started)["Available"] == ("False", "MinimumReplicasUnavailable")
    done = (await client.get(Deployment, "web", namespace=namespace)).to_dict()
    status = done["status"]
    assert status["observedGeneration"] == done["metadata"]["generation"] == 1
    assert (status["replicas"], status["updatedReplicas"]) == (2, 2)
    assert (status["readyReplicas"], status["availableReplicas"]) == (2, 2)
    assert _conditions(done) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    writes = [r for r in log.requests() if r.subresource == "status" and r.name == "web"]
    assert writes and {r.user for r in writes} == {
        "system:serviceaccount:kube-system:deployment-controller"
    }
    assert {(r.verb, r.status) for r in writes} == {("update", 200)}
    owners = {(m["manager"], m.get("subresource")) for m in done["metadata"]["managedFields"]}
    assert ("kube-controller-manager", "status") in owners


def test_a_broken_image_exceeds_the_progress_deadline(
    kube: KubeEmulator, namespace: str, kubeconfig: Path
) -> None:
    # 100 s of progressDeadlineSeconds is 1 s in the emulator (progress_deadline_scale=0.01).
    kube.apply(_deployment("bad", namespace, "nginx:broken", progressDeadlineSeconds=100))
    time.sleep(1.5)  # longer than a good rollout takes
    pending = kube.get("apps/v1", "Deployment", "bad", namespace) or {}
    assert _conditions(pending)["Available"] == ("False", "MinimumReplicasUnavailable")
    failed = _wait_for(kube, "bad", namespace, "ProgressDeadlineExceeded")
    assert _conditions(failed) == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("False", "ProgressDeadlineExceeded"),
    }
    assert "availableReplicas" not in failed["status"]
    assert failed["status"]["unavailableReplicas"] == 2
    rollout = subprocess.run(
        [
            KUBECTL,
            "--kubeconfig",
            str(kubeconfig),
            "rollout",
            "status",
            "-n",
            namespace,
            "deployment/bad",
            "--timeout=10s",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert rollout.returncode != 0
    assert 'deployment "bad" exceeded its progress deadline' in rollout.stderr
