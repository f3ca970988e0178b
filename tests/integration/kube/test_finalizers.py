"""Deletion as a real API server does it, seen through lightkube: an object with finalizers is
only marked (deletionTimestamp, generation bumped) until its last finalizer goes; a deleted
Namespace is Terminating while its content waits for finalizers, says so in its conditions,
and goes once it is empty."""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.types import PatchType
from tests.support.waiting import wait_until

from slipway.sandbox.kube import KubeEmulator

from ._support import Kustomization, kustomization

HOLD = "example.com/hold"


def held_config_map(name: str, namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "finalizers": [HOLD]},
    }


async def test_an_object_with_a_finalizer_is_marked_and_goes_when_it_is_removed(
    kube: KubeEmulator, client: AsyncClient, namespace: str
) -> None:
    kube.apply(kustomization("app", namespace), manager="slipway")
    await client.patch(
        Kustomization,
        "app",
        {"metadata": {"finalizers": [HOLD]}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    before = await client.get(Kustomization, "app", namespace=namespace)

    await client.delete(Kustomization, "app", namespace=namespace)

    marked = await client.get(Kustomization, "app", namespace=namespace)
    assert marked.metadata is not None and before.metadata is not None
    assert marked.metadata.deletionTimestamp is not None
    assert marked.metadata.deletionGracePeriodSeconds == 0
    assert marked.metadata.generation == (before.metadata.generation or 0) + 1
    with pytest.raises(ApiError) as refused:  # no finalizer may join an object being deleted
        await client.patch(
            Kustomization,
            "app",
            {"metadata": {"finalizers": [HOLD, "example.com/late"]}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )
    assert refused.value.status.code == 422
    assert "no new finalizers can be added" in str(refused.value.status.message)

    await client.patch(
        Kustomization,
        "app",
        {"metadata": {"finalizers": None}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    assert kube.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "app", namespace) is None


async def test_a_deleted_namespace_terminates_waits_for_finalizers_then_goes(
    kube: KubeEmulator, client: AsyncClient, namespace: str
) -> None:
    kube.apply(held_config_map("held", namespace))
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "plain", "namespace": namespace},
        }
    )

    await client.delete(Namespace, namespace)

    def terminating() -> dict[str, Any] | None:
        found = kube.get("v1", "Namespace", namespace)
        conditions = ((found or {}).get("status") or {}).get("conditions") or []
        return (
            found if any(c["type"] == "NamespaceFinalizersRemaining" for c in conditions) else None
        )

    found = wait_until(terminating, message="the namespace to report the finalizer holding it")
    assert found["status"]["phase"] == "Terminating"
    remaining = {c["type"]: c["message"] for c in found["status"]["conditions"]}
    assert remaining["NamespaceFinalizersRemaining"] == (
        f"Some content in the namespace has finalizers remaining: {HOLD} in 1 resource instances"
    )
    assert kube.get("v1", "ConfigMap", "plain", namespace) is None  # no finalizer: gone at once
    held = await client.get(ConfigMap, "held", namespace=namespace)
    assert held.metadata is not None and held.metadata.deletionTimestamp is not None

    await client.patch(
        ConfigMap,
        "held",
        {"metadata": {"finalizers": []}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )

    wait_until(
        lambda: kube.get("v1", "Namespace", namespace) is None,
        message="the namespace to go once its content is gone",
    )
    assert kube.get("v1", "ConfigMap", "held", namespace) is None
