"""The emulator's request log and latency knob, as tests and benchmarks use them: each
request named the way the API server's audit log names it, only inside the block that
recorded it, and every answer held back by `latency_ms` (a watch: its first byte only)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from slipway.sandbox.kube import KubeEmulator, KubeRequest

from ._support import ADMIN_TOKEN, FLUX_KS, LIMITED_TOKEN, kustomization

AGENT = "request-log-test/1.0"


def _client(kube: KubeEmulator, token: str) -> httpx.Client:
    assert kube.tls is not None
    verify = ssl.create_default_context(cadata=kube.tls.ca_pem.decode())
    headers = {"Authorization": f"Bearer {token}", "User-Agent": AGENT}
    return httpx.Client(base_url=kube.url, headers=headers, verify=verify, timeout=10)


@pytest.fixture
def admin(kube: KubeEmulator) -> Iterator[httpx.Client]:
    with _client(kube, ADMIN_TOKEN) as client:
        yield client


def _row(r: KubeRequest) -> tuple[str, str, str, str, str, str, str, int, str]:
    return (
        r.verb,
        r.method,
        r.group,
        r.resource,
        r.subresource,
        r.namespace,
        r.name,
        r.status,
        r.user,
    )


def test_each_request_is_named_by_verb_resource_and_user(
    kube: KubeEmulator, admin: httpx.Client, namespace: str
) -> None:
    collection = f"/apis/{FLUX_KS}/v1/namespaces/{namespace}/kustomizations"
    body = kustomization("app", namespace)
    status = {"status": {"observedGeneration": 1}}
    merge = {"Content-Type": "application/merge-patch+json"}
    apply = {"Content-Type": "application/apply-patch+yaml"}
    with kube.recording() as log, _client(kube, LIMITED_TOKEN) as limited:
        assert admin.get("/version").status_code == 200
        assert admin.post(collection, json=body).status_code == 201
        assert admin.get(f"{collection}/app").status_code == 200
        assert admin.get(collection).status_code == 200
        watch = {"watch": "true", "timeoutSeconds": "1"}
        with admin.stream("GET", collection, params=watch) as streamed:
            assert [json.loads(line)["type"] for line in streamed.iter_lines() if line] == ["ADDED"]
        assert admin.put(f"{collection}/app", json=admin.get(f"{collection}/app").json()).is_success
        assert admin.patch(f"{collection}/app/status", json=status, headers=merge).is_success
        applied = admin.patch(
            f"{collection}/app",
            params={"fieldManager": "slipway"},
            content=json.dumps(body),
            headers=apply,
        )
        assert applied.status_code == 200
        assert limited.get(f"/api/v1/namespaces/{namespace}/secrets").status_code == 403
        assert admin.get(f"/api/v1/namespaces/{namespace}").status_code == 200
        assert admin.delete(f"{collection}/app").status_code == 200
        assert admin.delete(collection).status_code == 200

    ks = (FLUX_KS, "kustomizations")
    assert [_row(r) for r in log.requests()] == [
        ("get", "GET", "", "", "", "", "", 200, "admin"),
        ("create", "POST", *ks, "", namespace, "", 201, "admin"),
        ("get", "GET", *ks, "", namespace, "app", 200, "admin"),
        ("list", "GET", *ks, "", namespace, "", 200, "admin"),
        ("watch", "GET", *ks, "", namespace, "", 200, "admin"),
        ("get", "GET", *ks, "", namespace, "app", 200, "admin"),
        ("update", "PUT", *ks, "", namespace, "app", 200, "admin"),
        ("patch", "PATCH", *ks, "status", namespace, "app", 200, "admin"),
        ("patch", "PATCH", *ks, "", namespace, "app", 200, "admin"),
        ("list", "GET", "", "secrets", "", namespace, "", 403, "limited"),
        ("get", "GET", "", "namespaces", "", namespace, namespace, 200, "admin"),
        ("delete", "DELETE", *ks, "", namespace, "app", 200, "admin"),
        ("deletecollection", "DELETE", *ks, "", namespace, "", 200, "admin"),
    ]
    first = log.requests()[0]
    assert (first.path, first.user_agent) == ("/version", AGENT)
    assert "fieldManager=slipway" in log.requests()[8].query
    assert [r.verb for r in log.requests(user="limited")] == ["list"]
    assert all(ADMIN_TOKEN not in repr(r) for r in log.requests())


def test_a_block_sees_only_the_requests_answered_while_it_ran(
    kube: KubeEmulator, admin: httpx.Client, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}"
    admin.get(f"{path}/configmaps")  # before every block
    with kube.recording() as outer:
        admin.get(f"{path}/secrets")
        with kube.recording() as inner:
            admin.get(f"{path}/serviceaccounts")
        admin.get(f"{path}/services")
    admin.get(f"{path}/configmaps")  # after every block
    with kube.recording() as later:
        admin.get(f"{path}/pods")

    assert [r.resource for r in outer.requests()] == ["secrets", "serviceaccounts", "services"]
    assert [r.resource for r in inner.requests()] == ["serviceaccounts"]
    assert [r.resource for r in later.requests()] == ["pods"]
    unauthenticated = httpx.get(f"{kube.url}/api", verify=False)  # noqa: S501
    assert unauthenticated.status_code == 401
    with kube.recording() as anonymous:
        httpx.get(f"{kube.url}/api", verify=False)  # noqa: S501
    assert [(r.verb, r.status, r.user) for r in anonymous.requests()] == [("get", 401, "")]


def test_latency_holds_each_answer_and_only_the_first_byte_of_a_watch(
    kube: KubeEmulator, admin: httpx.Client, namespace: str
) -> None:
    latency = 0.6
    collection = f"/apis/{FLUX_KS}/v1/namespaces/{namespace}/kustomizations"
    kube.latency_ms = latency * 1000
    try:
        started = time.monotonic()
        listed = admin.get(collection)
        assert time.monotonic() - started >= latency
        version = listed.json()["metadata"]["resourceVersion"]
        params = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "5"}
        started = time.monotonic()
        with admin.stream("GET", collection, params=params) as watch:
            assert time.monotonic() - started >= latency  # the headers waited
            lines = watch.iter_lines()
            written = time.monotonic()
            kube.apply(kustomization("app", namespace))
            event = json.loads(next(line for line in lines if line))
            arrived = time.monotonic() - written
    finally:
        kube.latency_ms = 0
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "app")
    assert arrived < latency  # events after the first byte are not held back
