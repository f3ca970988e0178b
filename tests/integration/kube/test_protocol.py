"""Wire details clients depend on, checked with plain httpx: Status bodies and their
Content-Type, discovery documents, watch streams, and the Python API the Flux emulator uses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from slipway.sandbox.kube import KubeEmulator

from ._support import ADMIN_TOKEN, FLUX_KS, kustomization


@pytest.fixture
def http(kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    assert kube.tls is not None
    ca = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.write_bytes(kube.tls.ca_pem)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=kube.url, headers=headers, verify=str(ca), timeout=10) as client:
        yield client


def test_errors_are_status_objects_served_as_application_json(http: httpx.Client) -> None:
    response = http.get("/api/v1/namespaces/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'namespaces "nowhere" not found',
        "reason": "NotFound",
        "details": {"name": "nowhere", "kind": "namespaces"},
        "code": 404,
    }
    unauthorized = httpx.get(f"{http.base_url}/api", verify=False)  # noqa: S501
    assert unauthorized.status_code == 401
    assert unauthorized.headers["content-type"] == "application/json"


def test_discovery_lists_builtin_and_flux_groups(http: httpx.Client) -> None:
    groups = {g["name"]: g for g in http.get("/apis").json()["groups"]}
    assert groups[FLUX_KS]["preferredVersion"]["groupVersion"] == f"{FLUX_KS}/v1"
    resources = http.get(f"/apis/{FLUX_KS}/v1").json()["resources"]
    names = {r["name"]: r for r in resources}
    assert names["kustomizations"]["kind"] == "Kustomization"
    assert names["kustomizations"]["namespaced"] is True
    assert "kustomizations/status" in names
    core = {r["name"] for r in http.get("/api/v1").json()["resources"]}
    assert {"namespaces", "secrets", "serviceaccounts", "configmaps"} <= core
    aggregated = http.get(
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    )
    assert aggregated.headers["content-type"].startswith(
        "application/json;g=apidiscovery.k8s.io;v=v2"
    )
    assert FLUX_KS in {item["metadata"]["name"] for item in aggregated.json()["items"]}


def test_watch_streams_json_lines_and_honours_timeout(
    http: httpx.Client, kube: KubeEmulator, namespace: str
) -> None:
    kube.apply(kustomization("app", namespace))
    url = f"/apis/{FLUX_KS}/v1/namespaces/{namespace}/kustomizations"
    with http.stream("GET", url, params={"watch": "true", "timeoutSeconds": "1"}) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "app")]


def test_a_watch_from_a_forgotten_version_ends_with_a_410_error_event() -> None:
    """As the API server's watch cache answers: HTTP 200, then one ERROR event whose object is
    the 410 Expired Status, then the end of the stream (the client lists again)."""
    with (
        KubeEmulator(tls=False, watch_history=5) as small,
        httpx.Client(base_url=small.url, headers={"Authorization": "Bearer sandbox-token"}) as h,
    ):
        for index in range(8):
            h.post("/api/v1/namespaces", json={"metadata": {"name": f"churn-{index}"}})
        recent = h.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"]
        params = {"watch": "true", "timeoutSeconds": "1"}
        with h.stream(
            "GET", "/api/v1/namespaces", params={**params, "resourceVersion": "1"}
        ) as old:
            events = [json.loads(line) for line in old.iter_lines() if line]
        with h.stream(
            "GET", "/api/v1/namespaces", params={**params, "resourceVersion": recent}
        ) as now:
            fresh = [json.loads(line) for line in now.iter_lines() if line]
    assert old.status_code == 200
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1 (")
    assert now.status_code == 200 and fresh == []  # a recent version still watches


def test_strategic_merge_patch_is_refused_for_custom_resources_only(
    http: httpx.Client, kube: KubeEmulator, namespace: str
) -> None:
    kube.apply(kustomization("app", namespace))
    strategic = {"Content-Type": "application/strategic-merge-patch+json"}
    crd = http.patch(
        f"/apis/{FLUX_KS}/v1/namespaces/{namespace}/kustomizations/app",
        content="{}",
        headers=strategic,
    )
    assert crd.status_code == 415
    assert crd.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    builtin = http.patch(
        f"/api/v1/namespaces/{namespace}",
        content='{"metadata":{"labels":{"a":"b"}}}',
        headers=strategic,
    )
    assert builtin.status_code == 200


def test_namespace_delete_answers_terminating(http: httpx.Client, namespace: str) -> None:
    response = http.delete(f"/api/v1/namespaces/{namespace}")
    assert response.status_code == 200
    assert response.json()["status"]["phase"] == "Terminating"
    assert http.get(f"/api/v1/namespaces/{namespace}").status_code == 404


def test_apply_requires_field_manager(http: httpx.Client, namespace: str) -> None:
    response = http.patch(
        f"/apis/{FLUX_KS}/v1/namespaces/{namespace}/kustomizations/app",
        content=json.dumps(kustomization("app", namespace)),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert response.status_code == 400


def test_python_watch_sees_status_set_by_a_controller(kube: KubeEmulator, namespace: str) -> None:
    kube.apply(kustomization("app", namespace))
    api_version = f"{FLUX_KS}/v1"
    seen: list[str] = []

    def controller() -> None:
        kube.set_condition(
            api_version,
            "Kustomization",
            "app",
            namespace,
            type="Ready",
            status="False",
            reason="Progressing",
        )

    stream = kube.watch(api_version, "Kustomization", namespace, timeout=5)
    for event in stream:
        conditions = event.object.get("status", {}).get("conditions", [])
        seen.append(event.type + ":" + ",".join(c["status"] for c in conditions))
        if event.type == "ADDED":
            threading.Thread(target=controller).start()
        else:
            break
    assert seen == ["ADDED:", "MODIFIED:False"]
    stored = kube.get(api_version, "Kustomization", "app", namespace)
    assert stored is not None and stored["spec"]["interval"] == "5m"
    managers = {(m["manager"], m.get("subresource")) for m in stored["metadata"]["managedFields"]}
    assert ("sandbox-controller", "status") in managers


def test_tokens_stay_out_of_reprs_and_errors(kube: KubeEmulator, http: httpx.Client) -> None:
    assert ADMIN_TOKEN not in repr(kube) and ADMIN_TOKEN not in repr(kube.state)
    assert ADMIN_TOKEN not in str(kube.token)
    response = http.get("/api", headers={"Authorization": "Bearer leaked-guess"})
    assert response.status_code == 401
    assert "leaked-guess" not in response.text
