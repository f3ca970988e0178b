"""kustomize-controller behaviour: the path of the fetched revision is built with kustomize,
applied with server-side apply, pruned, and reported the way Flux reports it."""

from __future__ import annotations

from typing import Any

import pytest

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import (
    DEPLOYMENT,
    KUSTOMIZE_V1,
    SOURCE_V1,
    GitRepo,
    condition,
    git_repository,
    kustomization,
    overlay,
    secret,
    wait_for,
    wait_ready,
)

OWNER = "kustomize.toolkit.fluxcd.io"


@pytest.fixture
def source(sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo) -> str:
    """A Ready GitRepository `app` on the repository's main branch."""
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    kube.apply(git_repository("app", namespace, repo.clone_url), manager="slipway")
    wait_ready(kube, "GitRepository", "app", namespace, "True")
    return "app"


def revision_of(kube: KubeEmulator, namespace: str) -> str:
    obj = kube.get(SOURCE_V1, "GitRepository", "app", namespace)
    assert obj is not None
    return str(obj["status"]["artifact"]["revision"])


def test_a_valid_path_is_built_applied_and_inventoried(
    kube: KubeEmulator, namespace: str, repo: GitRepo, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")

    obj = wait_ready(kube, "Kustomization", "app", namespace, "True")

    revision = revision_of(kube, namespace)
    assert revision == f"main@sha1:{repo.head}"
    ready = condition(obj)
    assert (ready["reason"], ready["message"]) == (
        "ReconciliationSucceeded",
        f"Applied revision: {revision}",
    )
    status = obj["status"]
    assert status["lastAppliedRevision"] == status["lastAttemptedRevision"] == revision
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert [c["type"] for c in status["conditions"]] == ["Ready"]
    assert sorted(status["inventory"]["entries"], key=lambda e: e["id"]) == [
        {"id": f"{namespace}_web__Service", "v": "v1"},
        {"id": f"{namespace}_web_apps_Deployment", "v": "v1"},
    ]
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service")):
        applied = kube.get(api_version, kind, "web", namespace)
        assert applied is not None, kind
        managers = {(m["manager"], m["operation"]) for m in applied["metadata"]["managedFields"]}
        assert ("kustomize-controller", "Apply") in managers
        assert applied["metadata"]["labels"] == {
            f"{OWNER}/name": "app",
            f"{OWNER}/namespace": namespace,
        }


def test_a_missing_path_fails_the_artifact_and_a_broken_overlay_fails_the_build(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(
        kustomization("missing", namespace, source, path="./k8s/overlays/missing"),
        manager="slipway",
    )
    kube.apply(
        kustomization("broken", namespace, source, path="./k8s/overlays/broken"),
        manager="slipway",
    )

    missing = wait_ready(kube, "Kustomization", "missing", namespace, "False")
    broken = wait_ready(kube, "Kustomization", "broken", namespace, "False")

    # kustomize-controller stats the path before building: a missing one is ArtifactFailed
    assert condition(missing)["reason"] == "ArtifactFailed"
    assert condition(missing)["message"] == (
        "kustomization path not found: stat k8s/overlays/missing: no such file or directory"
    )
    ready = condition(broken)
    assert ready["reason"] == "BuildFailed"
    assert ready["message"].startswith("kustomize build failed: accumulating resources")
    assert "missing-base" in ready["message"]
    assert "/tmp" not in ready["message"]  # paths are relative to the artifact
    revision = revision_of(kube, namespace)
    for failed, step in ((missing, "Fetching"), (broken, "Building")):
        reconciling = condition(failed, "Reconciling")
        assert reconciling["reason"] == "ProgressingWithRetry"
        assert reconciling["message"] == (
            f"{step} manifests for revision {revision} with a timeout of 5m0s"
        )
        assert failed["status"]["observedGeneration"] == -1  # only success records it
        assert "lastAppliedRevision" not in failed["status"]
    assert broken["status"]["lastAttemptedRevision"] == revision


def test_an_unknown_kind_applies_nothing(kube: KubeEmulator, namespace: str, source: str) -> None:
    kube.apply(
        kustomization("widget", namespace, source, path="./k8s/overlays/unknown-kind"),
        manager="slipway",
    )

    failed = wait_ready(kube, "Kustomization", "widget", namespace, "False")

    assert condition(failed)["reason"] == "ReconciliationFailed"
    assert (
        'no matches for kind "Widget" in version "example.com/v1"' in (condition(failed)["message"])
    )
    assert kube.get("apps/v1", "Deployment", "web", namespace) is None


def test_a_new_commit_is_applied_and_what_it_removes_is_pruned(
    kube: KubeEmulator, namespace: str, repo: GitRepo, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")
    first = wait_ready(kube, "Kustomization", "app", namespace, "True")["status"]
    assert first["lastAppliedRevision"] == f"main@sha1:{repo.head}"

    new_head = repo.commit(
        {
            "k8s/base/deployment.yaml": DEPLOYMENT.format(replicas=3),
            "k8s/base/service.yaml": None,
            "k8s/base/kustomization.yaml": overlay("deployment.yaml"),
        },
        "scale to 3, drop the Service",
    )
    new_revision = f"main@sha1:{new_head}"

    wait_for(lambda: revision_of(kube, namespace) == new_revision, "the new source revision")

    def applied() -> dict[str, Any] | None:
        obj = kube.get(KUSTOMIZE_V1, "Kustomization", "app", namespace) or {}
        return obj if obj["status"].get("lastAppliedRevision") == new_revision else None

    status = wait_for(applied, "lastAppliedRevision to follow")["status"]
    deployment = kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment is not None and deployment["spec"]["replicas"] == 3
    assert kube.get("v1", "Service", "web", namespace) is None
    assert status["inventory"]["entries"] == [{"id": f"{namespace}_web_apps_Deployment", "v": "v1"}]


def test_deleting_the_source_fails_the_kustomization_and_keeps_what_was_applied(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")
    before = wait_ready(kube, "Kustomization", "app", namespace, "True")

    kube.delete(SOURCE_V1, "GitRepository", source, namespace)

    after = wait_ready(kube, "Kustomization", "app", namespace, "False")
    assert condition(after)["reason"] == "ArtifactFailed"
    assert condition(after)["message"] == (
        f'GitRepository.source.toolkit.fluxcd.io "{source}" not found'
    )
    kept = ("lastAppliedRevision", "inventory", "observedGeneration")
    assert {k: after["status"][k] for k in kept} == {k: before["status"][k] for k in kept}
    assert kube.get("apps/v1", "Deployment", "web", namespace) is not None


def test_deleting_a_pruning_kustomization_garbage_collects_its_objects(
    kube: KubeEmulator, namespace: str, source: str
) -> None:
    kube.apply(kustomization("app", namespace, source), manager="slipway")
    wait_ready(kube, "Kustomization", "app", namespace, "True")
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unrelated", "namespace": namespace},
        },
        manager="someone-else",
    )

    kube.delete(KUSTOMIZE_V1, "Kustomization", "app", namespace)

    wait_for(
        lambda: (
            kube.get("apps/v1", "Deployment", "web", namespace) is None
            and kube.get("v1", "Service", "web", namespace) is None
        ),
        "the Deployment and Service to be pruned",
    )
    assert kube.get("v1", "ConfigMap", "unrelated", namespace) is not None
