"""Nobody's objects are taken: before anything is applied, each environment's Namespace (and,
where it is this environment's, every object in it) is read, and one that another project,
another installation or nobody Slipway knows owns is a `Conflict`: nothing is applied."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from slipway.domain.errors import Conflict
from slipway.gitops import ClusterClient, environment_objects
from slipway.sandbox.kube import KubeEmulator

from ._support import make_spec

OTHER_INSTALLATION = "fedcba9876543210"


API = {"Namespace": "v1", "Secret": "v1", "Kustomization": "kustomize.toolkit.fluxcd.io/v1"}


def _get(kube: KubeEmulator, kind: str, name: str, namespace: str | None = None) -> Any:
    return kube.get(API[kind], kind, name, namespace)


def _labels(kube: KubeEmulator, kind: str, name: str, namespace: str | None = None) -> Any:
    obj = _get(kube, kind, name, namespace)
    return None if obj is None else obj["metadata"].get("labels")


async def test_two_projects_composing_into_one_namespace_are_refused(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    """`coll` + `a-staging` and `coll-a` + `staging` are both project-coll-a-staging."""
    first = make_spec("coll", "a-staging")
    assert (await cluster.apply_environments([first]))["a-staging"].ok
    before = _labels(kube, "Kustomization", "coll-a-staging", "project-coll-a-staging")
    second = make_spec("coll-a", "staging")
    with pytest.raises(Conflict) as refused:
        await cluster.apply_environments([make_spec("coll-a", "development"), second])
    message = refused.value.message
    assert "Namespace project-coll-a-staging" in message
    assert "environment 'a-staging' of project 'coll'" in message
    # Nothing was applied: not even the environment that had no conflict.
    assert _get(kube, "Namespace", "project-coll-a-development") is None
    after = _labels(kube, "Kustomization", "coll-a-staging", "project-coll-a-staging")
    assert after == before and after["slipway.dev/project"] == "coll"


async def test_a_namespace_slipway_did_not_create_is_left_alone(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "project-hand-development"}}
    )
    with pytest.raises(Conflict, match="has no Slipway labels"):
        await cluster.apply_environments([make_spec("hand")])
    labels = _labels(kube, "Namespace", "project-hand-development")
    assert "app.kubernetes.io/managed-by" not in labels
    assert _get(kube, "Secret", "hand-git-auth", "project-hand-development") is None


async def test_an_object_inside_our_namespace_that_is_not_ours_is_a_conflict(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("inner")
    namespace = environment_objects(spec)[0]
    await cluster.apply_object(namespace)
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "inner-git-auth", "namespace": spec.names.namespace},
            "data": {"token": "aGFuZC1tYWRl"},
        }
    )
    with pytest.raises(Conflict) as refused:
        await cluster.apply_environments([spec])
    assert "Secret project-inner-development/inner-git-auth has no Slipway labels" in str(
        refused.value
    )
    secret = _get(kube, "Secret", "inner-git-auth", spec.names.namespace)
    assert secret is not None and secret["data"] == {"token": "aGFuZC1tYWRl"}


async def test_another_installations_project_is_refused_unless_adopted(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    theirs = dataclasses.replace(make_spec("shared"), installation=OTHER_INSTALLATION)
    assert (await cluster.apply_environments([theirs]))["development"].ok
    ours = make_spec("shared")
    with pytest.raises(Conflict) as refused:
        await cluster.apply_environments([ours])
    assert f"another Slipway installation ({OTHER_INSTALLATION})" in refused.value.message
    assert refused.value.hint is not None and "--adopt" in refused.value.hint
    labels = _labels(kube, "Namespace", "project-shared-development")
    assert labels["slipway.dev/installation"] == OTHER_INSTALLATION

    assert (await cluster.apply_environments([ours], adopt=True))["development"].ok
    labels = _labels(kube, "Namespace", "project-shared-development")
    assert labels["slipway.dev/installation"] == ours.installation


async def test_applying_ones_own_environment_again_is_allowed(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("again")
    assert (await cluster.apply_environments([spec]))["development"].ok
    assert (await cluster.apply_environments([spec]))["development"].ok
