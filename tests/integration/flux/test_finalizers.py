"""Deleting Flux objects as Flux handles it: both controllers hold their objects with the
`finalizers.fluxcd.io` finalizer, so a delete only marks them; kustomize-controller prunes
its inventory first (when `spec.prune` is set) and source-controller drops its artifact, and
only then does each let go, and the API server removes the object. A Namespace holding them
is Terminating until then."""

from __future__ import annotations

import pytest

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import (
    KUSTOMIZE_V1,
    SOURCE_V1,
    GitRepo,
    git_repository,
    kustomization,
    secret,
    wait_for,
    wait_ready,
)

FINALIZER = "finalizers.fluxcd.io"


@pytest.fixture
def source(sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo) -> str:
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    kube.apply(git_repository("app", namespace, repo.clone_url), manager="slipway")
    wait_ready(kube, "GitRepository", "app", namespace, "True")
    return "app"


def test_both_controllers_hold_what_they_reconcile(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")
    ready = wait_ready(kube, "Kustomization", "app", namespace, "True")
    repository = kube.get(SOURCE_V1, "GitRepository", source, namespace)
    assert ready["metadata"]["finalizers"] == [FINALIZER]
    assert repository is not None and repository["metadata"]["finalizers"] == [FINALIZER]
    # Slipway's apply again leaves the controller's finalizer alone (it owns no such field)
    again = kube.apply(kustomization("app", namespace, source), manager="slipway", force=False)
    assert again["metadata"]["finalizers"] == [FINALIZER]


def test_a_deleted_kustomization_prunes_before_it_goes(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")
    wait_ready(kube, "Kustomization", "app", namespace, "True")
    since = kube.state.resource_version

    kube.delete(KUSTOMIZE_V1, "Kustomization", "app", namespace)

    wait_for(
        lambda: kube.get(KUSTOMIZE_V1, "Kustomization", "app", namespace) is None,
        "the Kustomization to go",
    )
    own = list(kube.watch(KUSTOMIZE_V1, "Kustomization", namespace, since=since, timeout=0.2))
    pruned = list(kube.watch("apps/v1", "Deployment", namespace, since=since, timeout=0.2))
    first, last = own[0], own[-1]
    assert first.type == "MODIFIED" and first.object["metadata"]["deletionTimestamp"]
    assert last.type == "DELETED"
    deployment_gone = [e.resource_version for e in pruned if e.type == "DELETED"]
    assert deployment_gone and deployment_gone[0] < last.resource_version  # pruned, then gone
    assert kube.get("v1", "Service", "web", namespace) is None


def test_a_kustomization_whose_account_is_gone_lets_go_without_pruning(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    """kustomize-controller skips pruning when it cannot impersonate the account (the
    reason Slipway deletes Kustomizations before their ServiceAccounts)."""
    account = {"apiVersion": "v1", "kind": "ServiceAccount"}
    kube.apply({**account, "metadata": {"name": "deployer", "namespace": namespace}})
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "deployer", "namespace": namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespace}],
    }
    kube.apply(binding)
    kube.apply(
        kustomization("app", namespace, source, serviceAccountName="deployer"), manager="slipway"
    )
    wait_ready(kube, "Kustomization", "app", namespace, "True")
    kube.delete("v1", "ServiceAccount", "deployer", namespace)

    kube.delete(KUSTOMIZE_V1, "Kustomization", "app", namespace)

    wait_for(
        lambda: kube.get(KUSTOMIZE_V1, "Kustomization", "app", namespace) is None,
        "the Kustomization to go",
    )
    assert kube.get("apps/v1", "Deployment", "web", namespace) is not None


def test_a_namespace_holding_flux_objects_terminates_until_flux_let_go(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")
    wait_ready(kube, "Kustomization", "app", namespace, "True")

    kube.delete("v1", "Namespace", namespace)

    terminating = kube.get("v1", "Namespace", namespace)
    assert terminating is not None and terminating["status"]["phase"] == "Terminating"
    wait_for(
        lambda: kube.get("v1", "Namespace", namespace) is None,
        "the namespace to go once Flux released its objects",
    )
    for api_version, kind in ((KUSTOMIZE_V1, "Kustomization"), (SOURCE_V1, "GitRepository")):
        assert kube.list(api_version, kind, namespace) == []
