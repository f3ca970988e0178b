"""Taking a project's objects down: only what Slipway labelled for this project, environment
and installation goes; an object in the project's namespace that is nobody's Slipway knows
stops everything before anything is deleted; a namespace Slipway did not create is never
deleted; a finalizer that is never removed ends the wait with an error naming it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from slipway.domain.errors import ClusterError, Conflict
from slipway.gitops import ClusterClient, EnvironmentSpec, environment_objects
from slipway.gitops.teardown import (
    FLUX_OWNER_NAME,
    FLUX_OWNER_NAMESPACE,
    check_teardown,
    delete_environment_objects,
    delete_kustomizations,
    wait_gone,
)
from slipway.sandbox.kube import KubeEmulator

from ._support import KS_API, make_spec

FLUX_FINALIZER = "finalizers.fluxcd.io"
Kustomization = create_namespaced_resource(
    "kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"
)


def present(kube: KubeEmulator, spec: EnvironmentSpec) -> list[str]:
    """The environment's objects still in the cluster, as `Kind name`."""
    return [
        f"{obj['kind']} {obj['metadata']['name']}"
        for obj in environment_objects(spec)
        if kube.get(
            obj["apiVersion"],
            obj["kind"],
            obj["metadata"]["name"],
            obj["metadata"].get("namespace"),
        )
    ]


def cluster_made(kube: KubeEmulator, namespace: str) -> None:
    """What a real cluster puts in every namespace, and what Flux applied and a controller
    made from it: none of it stops a delete."""
    kube.apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("default", namespace)}
    )
    kube.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("kube-root-ca.crt", namespace)}
    )
    token = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token"}
    kube.apply({**token, "metadata": _meta("default-token", namespace)})


def flux_applied(kube: KubeEmulator, spec: EnvironmentSpec) -> None:
    """A workload kustomize-controller applied from the repository (its owner labels)."""
    ns = spec.names.namespace
    labels = {FLUX_OWNER_NAME: spec.names.kustomization, FLUX_OWNER_NAMESPACE: ns}
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {**_meta("web", ns), "labels": labels},
            "spec": {"ports": [{"port": 80}]},
        },
        manager="kustomize-controller",
    )


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace}


async def test_only_the_projects_objects_go_and_everything_else_stays(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    specs = [make_spec("tdown", "development"), make_spec("tdown", "production")]
    neighbour = make_spec("tdown-nb", "development")
    results = await cluster.apply_environments(specs)
    assert all(result.ok for result in results.values())
    assert (await cluster.apply_environments([neighbour]))[neighbour.environment].ok
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tdown-unrelated"}})
    for spec in specs:
        cluster_made(kube, spec.names.namespace)
        flux_applied(kube, spec)

    await check_teardown(cluster, specs, project="tdown")
    waiting = await delete_kustomizations(cluster, specs)
    assert sorted(ref.name for ref in waiting) == ["tdown-development", "tdown-production"]
    await wait_gone(cluster, waiting, within=10)
    await wait_gone(cluster, await delete_environment_objects(cluster, specs), within=10)

    for spec in specs:
        assert present(kube, spec) == []
        assert kube.get("v1", "Namespace", spec.names.namespace) is None
    assert len(present(kube, neighbour)) == len(environment_objects(neighbour))
    assert kube.get("v1", "Namespace", "tdown-unrelated") is not None
    # Idempotent: running both again finds nothing to do.
    await check_teardown(cluster, specs, project="tdown")
    assert await delete_kustomizations(cluster, specs) == []
    assert await delete_environment_objects(cluster, specs) == []


async def test_an_unlabelled_object_in_the_namespace_stops_the_delete_before_anything_goes(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("tstray")
    assert (await cluster.apply_environments([spec]))[spec.environment].ok
    cluster_made(kube, spec.names.namespace)
    kube.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("notes", spec.names.namespace)},
        manager="kubectl",
    )
    other_project = make_spec("tstray-other")
    stray = environment_objects(other_project)[1]  # another project's labelled Secret
    stray["metadata"]["namespace"] = spec.names.namespace
    kube.apply(stray, manager="slipway")

    with pytest.raises(Conflict) as refused:
        await check_teardown(cluster, [spec], project="tstray")

    message = str(refused.value)
    ns = spec.names.namespace
    assert f"ConfigMap {ns}/notes" in message
    assert f"Secret {ns}/{stray['metadata']['name']}" in message
    assert "kube-root-ca.crt" not in message and "default" not in message
    assert "nothing was deleted" in message
    assert "slipway project delete tstray" in (refused.value.hint or "")
    assert len(present(kube, spec)) == len(environment_objects(spec))


async def test_a_namespace_slipway_did_not_create_is_never_deleted(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    """The environment's namespace exists without Slipway's labels (someone made it): the
    project's own labelled objects inside go, the namespace and its other content stay."""
    spec = make_spec("tforeign")
    ns = spec.names.namespace
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("theirs", ns)})
    for obj in environment_objects(spec)[1:]:  # all but the Namespace, labelled as ours
        kube.apply(obj, manager="slipway")

    await check_teardown(cluster, [spec], project="tforeign")  # not ours: not scanned
    await wait_gone(cluster, await delete_kustomizations(cluster, [spec]), within=10)
    await wait_gone(cluster, await delete_environment_objects(cluster, [spec]), within=10)

    assert present(kube, spec) == ["Namespace " + ns]
    assert kube.get("v1", "ConfigMap", "theirs", ns) is not None


async def test_a_kustomization_flux_never_releases_is_named_when_the_wait_ends(
    kube: KubeEmulator, cluster: ClusterClient, kubeconfig: Path
) -> None:
    spec = make_spec("theld")
    assert (await cluster.apply_environments([spec]))[spec.environment].ok
    ns, name = spec.names.namespace, spec.names.kustomization
    flux = AsyncClient(KubeConfig.from_file(kubeconfig), field_manager="kustomize-controller")

    async def hold(finalizers: list[str]) -> None:  # as kustomize-controller patches them
        patch = {"metadata": {"finalizers": finalizers}}
        await flux.patch(Kustomization, name, patch, namespace=ns, patch_type=PatchType.MERGE)

    try:
        await hold([FLUX_FINALIZER])
        waiting = await delete_kustomizations(cluster, [spec])
        with pytest.raises(ClusterError) as stuck:
            await wait_gone(cluster, waiting, within=0.5, step="delete_workloads")

        assert f"Kustomization {ns}/{name} (finalizers {FLUX_FINALIZER})" in str(stuck.value)
        assert "kustomize-controller" in (stuck.value.hint or "")
        marked = kube.get(KS_API, "Kustomization", name, ns)
        assert marked is not None and marked["metadata"]["deletionTimestamp"]

        # Flux lets go while Slipway waits: the wait ends with the object gone.
        async def release() -> None:
            await asyncio.sleep(0.3)
            await hold([])

        await asyncio.gather(release(), wait_gone(cluster, waiting, within=10))
        assert kube.get(KS_API, "Kustomization", name, ns) is None
    finally:
        await flux.close()
