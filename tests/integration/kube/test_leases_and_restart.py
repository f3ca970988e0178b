"""coordination.k8s.io/v1 Leases as leader election uses them (through lightkube), and a
restart of the API server as clients see it: connections refused while it is down, open
watches cut, objects kept, and a watch resumed from before the restart answered 410 Expired
(a restarted server's watch cache starts at the current resourceVersion)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from slipway.sandbox.kube import KubeEmulator

from ._support import ADMIN_TOKEN

TOKEN = "sandbox-token"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def _lease(name: str, namespace: str, holder: str) -> Lease:
    now = datetime.now(UTC)
    spec = LeaseSpec(
        holderIdentity=holder,
        leaseDurationSeconds=15,
        acquireTime=now,
        renewTime=now,
        leaseTransitions=0,
    )
    return Lease(metadata=ObjectMeta(name=name, namespace=namespace), spec=spec)


def _holder(lease: Lease) -> str | None:
    assert lease.spec is not None
    return lease.spec.holderIdentity


async def test_lease_create_read_and_optimistic_update(client: AsyncClient, namespace: str) -> None:
    created = await client.create(_lease("sync", namespace, "a"))
    assert _holder(created) == "a"
    assert created.metadata is not None and created.metadata.resourceVersion

    read = await client.get(Lease, "sync", namespace=namespace)
    assert read.spec is not None
    read.spec.holderIdentity = "b"
    read.spec.leaseTransitions = 1
    taken = await client.replace(read)
    assert _holder(taken) == "b"

    stale = read  # still carries the resourceVersion `taken` replaced
    assert stale.spec is not None
    stale.spec.holderIdentity = "c"
    with pytest.raises(ApiError) as refused:
        await client.replace(stale)
    assert refused.value.status.code == 409
    assert refused.value.status.reason == "Conflict"
    assert _holder(await client.get(Lease, "sync", namespace=namespace)) == "b"

    with pytest.raises(ApiError) as taken_twice:
        await client.create(_lease("sync", namespace, "d"))
    assert taken_twice.value.status.code == 409
    assert taken_twice.value.status.reason == "AlreadyExists"


async def test_leases_are_discovered_and_listed_across_namespaces(
    client: AsyncClient, namespace: str
) -> None:
    await client.create(_lease("listed", namespace, "a"))
    names = [
        (lease.metadata.namespace, lease.metadata.name)
        async for lease in client.list(Lease, namespace="*")
        if lease.metadata is not None
    ]
    assert (namespace, "listed") in names


def test_kubectl_style_discovery_lists_leases(kube: KubeEmulator) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert kube.tls is not None
    trust = ssl.create_default_context(cadata=kube.tls.ca_pem.decode())
    with httpx.Client(base_url=kube.url, headers=headers, verify=trust, timeout=10) as http:
        resources = http.get("/apis/coordination.k8s.io/v1").json()["resources"]
    lease = next(r for r in resources if r["name"] == "leases")
    assert lease["kind"] == "Lease"
    assert lease["namespaced"] is True
    assert {"get", "list", "watch", "create", "update", "patch"} <= set(lease["verbs"])


# -- restart --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def restartable() -> Iterator[KubeEmulator]:
    with KubeEmulator(tls=False) as kube:
        yield kube


def _configmap(name: str, value: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"v": value}}


def test_restart_refuses_cuts_keeps_objects_and_expires_old_versions(
    restartable: KubeEmulator,
) -> None:
    kube = restartable
    headers = {"Authorization": f"Bearer {TOKEN}"}
    http = httpx.Client(base_url=kube.url, headers=headers, timeout=10)
    before = http.post(CONFIGMAPS, json=_configmap("kept", "1")).json()
    version = before["metadata"]["resourceVersion"]
    params = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "30"}
    watch = http.stream("GET", CONFIGMAPS, params=params)
    response = watch.__enter__()
    lines = response.iter_lines()
    try:
        with kube.down():
            with pytest.raises(httpx.TransportError):
                list(lines)  # the open watch is cut, not ended cleanly
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{kube.url}/version", timeout=2)
            kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "kept", "namespace": "default"},
                    "data": {"v": "2"},
                }
            )
    finally:
        watch.__exit__(None, None, None)
    http.close()

    with httpx.Client(base_url=kube.url, headers=headers, timeout=10) as again:
        assert again.get(f"{CONFIGMAPS}/kept").json()["data"] == {"v": "2"}
        expired = _watch(again, CONFIGMAPS, version)
        assert [e["type"] for e in expired] == ["ERROR"]
        assert expired[0]["object"]["code"] == 410
        assert expired[0]["object"]["reason"] == "Expired"
        listed = again.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
        after = again.put(f"{CONFIGMAPS}/kept", json=_configmap("kept", "3")).json()
        resumed = _watch(again, CONFIGMAPS, listed)
        assert [(e["type"], e["object"]["data"]) for e in resumed] == [("MODIFIED", {"v": "3"})]
        assert (
            resumed[0]["object"]["metadata"]["resourceVersion"]
            == (after["metadata"]["resourceVersion"])
        )


def _watch(http: httpx.Client, path: str, version: str) -> list[dict[str, Any]]:
    query = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "1"}
    with http.stream("GET", path, params=query) as response:
        assert response.status_code == 200
        return [json.loads(line) for line in response.iter_lines() if line]
