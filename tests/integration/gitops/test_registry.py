"""A kind registered once in `kinds.KINDS` is everywhere: a ConfigMap added by this test is
built, applied to the emulator, checked by preflight and listed for the store, with no other
code changed."""

from __future__ import annotations

import copy
from typing import Any, cast

import kubernetes_validate
import pytest

from slipway.domain.names import ResourceKind, ResourceNames
from slipway.gitops import ClusterClient, kinds, manifests, run_preflight
from slipway.gitops.preflight import check_names
from slipway.gitops.spec import EnvironmentSpec
from slipway.sandbox.kube import KubeEmulator

from ._support import make_spec


def _config_map(spec: EnvironmentSpec) -> dict[str, Any]:
    return {"data": {"environment": spec.environment}}


@pytest.fixture
def extra_kind(monkeypatch: pytest.MonkeyPatch) -> kinds.KindInfo:
    extra = kinds.KindInfo(
        kind=cast(ResourceKind, "ConfigMap"),
        group="",
        version="v1",
        plural="configmaps",
        namespaced=True,
        name=lambda n: f"{n.slug}-settings",
        body=_config_map,
        apply_rank=25,  # between the Secret and the ServiceAccount
        delete_rank=5,  # before everything
    )
    monkeypatch.setitem(kinds.KINDS, "ConfigMap", extra)
    return extra


def test_every_list_of_kinds_derives_from_the_registry(extra_kind: kinds.KindInfo) -> None:
    spec = make_spec("sierra")
    assert [i.kind for i in kinds.apply_order()][1:3] == ["Secret", "ConfigMap"]
    assert kinds.delete_order()[0] is extra_kind
    objects = manifests.environment_objects(spec)
    assert objects[2] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "sierra-settings",
            "namespace": spec.names.namespace,
            "labels": manifests.labels(spec),
        },
        "data": {"environment": "development"},
    }
    kubernetes_validate.validate(copy.deepcopy(objects[2]), "1.30", strict=True)
    ref = kinds.environment_refs(ResourceNames("sierra", "development"))[2]
    assert (ref.kind, ref.name) == ("ConfigMap", "sierra-settings")
    assert ref.namespace == spec.names.namespace
    assert "RBAC configmaps" in check_names()
    assert kinds.kind_info("ConfigMap").api_version == "v1"


async def test_a_registered_kind_is_applied_and_checked(
    extra_kind: kinds.KindInfo, kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("tango")
    applied = await cluster.apply_environment(spec)
    assert [a.kind for a in applied] == [i.kind for i in kinds.apply_order()]
    stored = kube.get("v1", "ConfigMap", "tango-settings", spec.names.namespace)
    assert stored is not None and stored["data"] == {"environment": "development"}
    checks = {c.name: c for c in await run_preflight(cluster)}
    assert checks["RBAC configmaps"].ok
    assert [c for c in checks] == check_names()
