"""kustomize-controller's health assessment (`spec.wait: true`): Ready stays Unknown while
the applied Deployment rolls out, then True; an image that never starts makes the health
check fail with ssa's message naming the Deployment."""

from __future__ import annotations

from typing import Any

import pytest

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import (
    GitRepo,
    condition,
    git_repository,
    kustomization,
    overlay,
    secret,
    wait_for,
    wait_ready,
)

BAD_IMAGE = overlay("../../base") + "images:\n  - name: nginx\n    newTag: broken\n"


@pytest.fixture
def source(sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo) -> str:
    repo.commit({"k8s/overlays/bad-image/kustomization.yaml": BAD_IMAGE}, "a broken image")
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    kube.apply(git_repository("app", namespace, repo.clone_url), manager="slipway")
    wait_ready(kube, "GitRepository", "app", namespace, "True")
    return "app"


def _unknown(kube: KubeEmulator, namespace: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = kube.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "app", namespace)
        return obj if condition(obj).get("status") == "Unknown" else None

    return wait_for(probe, "Ready=Unknown while the health checks run", timeout=15)


def test_wait_turns_ready_once_the_deployment_is_available(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source, wait=True, timeout="2m"), manager="slipway")

    progressing = _unknown(kube, namespace)
    ready = condition(progressing)
    assert ready["reason"] == "Progressing"
    assert ready["message"].startswith("Running health checks for revision main@sha1:")
    assert ready["message"].endswith("with a timeout of 2m0s")
    assert condition(progressing, "Reconciling")["status"] == "True"

    done = wait_ready(kube, "Kustomization", "app", namespace, "True")
    deployment = kube.get("apps/v1", "Deployment", "web", namespace) or {}
    available = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
    assert available["Available"] == "True"  # Ready came only after the rollout
    assert condition(done)["reason"] == "ReconciliationSucceeded"
    healthy = condition(done, "Healthy")
    assert (healthy["status"], healthy["reason"]) == ("True", "Succeeded")
    assert healthy["message"].startswith("Health check passed in ")
    assert condition(done, "Reconciling") == {}


def test_a_deployment_that_never_starts_fails_the_health_check(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    # 1m of spec.timeout is 3 s in the emulator (timeout_scale=0.05), before the
    # Deployment's own progress deadline (600 s x 0.01).
    spec: dict[str, Any] = {"wait": True, "timeout": "1m", "path": "./k8s/overlays/bad-image"}
    kube.apply(kustomization("app", namespace, source, **spec), manager="slipway")

    _unknown(kube, namespace)
    failed = wait_ready(kube, "Kustomization", "app", namespace, "False", timeout=20)
    ready = condition(failed)
    expected = f"timeout waiting for: [Deployment/{namespace}/web status: 'InProgress']"
    assert ready["reason"] == "HealthCheckFailed"
    assert ready["message"].startswith("health check failed after ")
    assert ready["message"].endswith(expected)
    healthy = condition(failed, "Healthy")
    assert (healthy["status"], healthy["reason"], healthy["message"]) == (
        "False",
        "HealthCheckFailed",
        expected,
    )
    image = kube.get("apps/v1", "Deployment", "web", namespace) or {}
    assert image["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:broken"
    assert "lastAppliedRevision" not in failed["status"]


def test_without_wait_ready_needs_only_the_apply(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    spec: dict[str, Any] = {"path": "./k8s/overlays/bad-image"}
    kube.apply(kustomization("app", namespace, source, **spec), manager="slipway")
    done = wait_ready(kube, "Kustomization", "app", namespace, "True")
    assert condition(done, "Healthy") == {}


def test_a_progress_deadline_fails_the_health_check_early(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    # The Deployment's default progress deadline (600 s x 0.01 = 6 s) comes before the
    # Kustomization's timeout (10m x 0.05 = 30 s): ssa fails fast on the Failed status.
    spec: dict[str, Any] = {"wait": True, "timeout": "10m", "path": "./k8s/overlays/bad-image"}
    kube.apply(kustomization("app", namespace, source, **spec), manager="slipway")
    failed = wait_ready(kube, "Kustomization", "app", namespace, "False", timeout=25)
    expected = (
        f"failed early due to stalled resources: [Deployment/{namespace}/web status: 'Failed']"
    )
    assert condition(failed)["message"].endswith(expected)
    assert condition(failed, "Healthy")["message"] == expected
