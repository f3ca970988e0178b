"""kustomize-controller acting as a Kustomization's `spec.serviceAccountName`: with the
account bound to `admin` in its namespace, what the overlay puts there applies; an overlay
that also writes a cluster-scoped Namespace fails its dry-run with the API server's
forbidden message for that account, and nothing of that revision is applied."""

from __future__ import annotations

import uuid
from typing import Any

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import FLUX_USER, SANDBOX_USER, Sandbox

from ._support import (
    KUSTOMIZE_V1,
    GitRepo,
    condition,
    git_repository,
    kustomization,
    overlay,
    secret,
    wait_for,
    wait_ready,
)

ACCOUNT = "app-reconciler"


def reconciler(kube: KubeEmulator, namespace: str) -> str:
    """The account and its RoleBinding to ClusterRole admin, as Slipway creates them."""
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": ACCOUNT, "namespace": namespace},
        }
    )
    kube.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": ACCOUNT, "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
        }
    )
    return f"system:serviceaccount:{namespace}:{ACCOUNT}"


def test_a_kustomization_applies_as_its_service_account_and_only_where_it_may(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    account = reconciler(kube, namespace)
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token))
    kube.apply(git_repository("app", namespace, repo.clone_url))
    wait_ready(kube, "GitRepository", "app", namespace, "True")

    with kube.recording() as log:
        kube.apply(kustomization("own", namespace, "app", serviceAccountName=ACCOUNT))
        wait_ready(kube, "Kustomization", "own", namespace, "True")
    assert kube.get("apps/v1", "Deployment", "web", namespace) is not None
    applies = [r for r in log.requests(user=account) if r.verb == "patch"]
    assert applies and {r.impersonator for r in applies} == {FLUX_USER}

    outside = f"escape-{uuid.uuid4().hex[:6]}"
    repo.commit(
        {
            "k8s/overlays/escape/kustomization.yaml": overlay("../../base", "namespace.yaml"),
            "k8s/overlays/escape/namespace.yaml": (
                f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {outside}\n"
            ),
        },
        "an overlay that writes outside its namespace",
    )
    kube.apply(
        kustomization(
            "escape", namespace, "app", path="./k8s/overlays/escape", serviceAccountName=ACCOUNT
        )
    )

    def refused() -> dict[str, Any] | None:
        # the source may not have fetched the commit yet (ArtifactFailed until it has)
        ready = condition(kube.get(KUSTOMIZE_V1, "Kustomization", "escape", namespace))
        return ready if ready.get("reason") == "ReconciliationFailed" else None

    failed = wait_for(refused, "the escaping Kustomization refused", timeout=30)
    assert failed["status"] == "False"
    assert failed["message"] == (
        f'Namespace/{outside} dry-run failed (Forbidden): namespaces "{outside}" is forbidden: '
        f'User "{account}" cannot patch resource "namespaces" in API group "" in the namespace '
        f'"{outside}"'
    )
    assert kube.get("v1", "Namespace", outside) is None
