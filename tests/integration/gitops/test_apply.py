"""Server-side apply through lightkube over HTTPS against the Kubernetes API emulator."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from slipway.domain.errors import ClusterError, Conflict
from slipway.domain.model import ResourceKind
from slipway.gitops import ClusterClient, apply_order, manifests
from slipway.sandbox.kube import AccessPolicy, KubeEmulator, PolicyRule

from ._support import GIT_TOKEN, USER, make_spec

ENVS = ("development", "staging", "production")


def _secret_value(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def _managers(obj: dict[str, Any]) -> set[str]:
    fields: list[dict[str, Any]] = obj["metadata"]["managedFields"]
    return {str(entry["manager"]) for entry in fields}


async def test_apply_three_environments(kube: KubeEmulator, cluster: ClusterClient) -> None:
    specs = [make_spec("alpha", env) for env in ENVS]
    results = await cluster.apply_environments(specs)

    assert list(results) == list(ENVS)
    for env, result in results.items():
        assert result.ok, result.error
        assert [o.ref.kind for o in result.objects] == [i.kind for i in apply_order()]
        ns = f"project-alpha-{env}"
        assert kube.get("v1", "Namespace", ns) is not None
        repo = kube.get("source.toolkit.fluxcd.io/v1", "GitRepository", "alpha-repo", ns)
        assert repo is not None
        assert repo["spec"]["url"] == "https://git.example.test/acme/alpha.git"
        assert repo["spec"]["secretRef"] == {"name": "alpha-git-auth"}
        assert _managers(repo) == {"slipway"}
        ks = kube.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", f"alpha-{env}", ns)
        assert ks is not None
        assert ks["spec"]["path"] == f"./k8s/overlays/{env}"
        assert ks["spec"]["targetNamespace"] == ns
        assert ks["metadata"]["labels"]["slipway.dev/environment"] == env
        secret = kube.get("v1", "Secret", "alpha-git-auth", ns)
        assert secret is not None
        assert _secret_value(secret, "password") == GIT_TOKEN
        rb = kube.get("rbac.authorization.k8s.io/v1", "RoleBinding", "alpha-reconciler", ns)
        assert rb is not None
        assert rb["subjects"][0]["namespace"] == ns


async def test_reapply_changes_nothing(kube: KubeEmulator, cluster: ClusterClient) -> None:
    spec = make_spec("bravo", "staging")
    first = await cluster.apply_environment(spec)
    second = await cluster.apply_environment(spec)

    assert [o.resource_version for o in second] == [o.resource_version for o in first]
    assert [o.uid for o in second] == [o.uid for o in first]
    ks = next(o for o in second if o.kind is ResourceKind.KUSTOMIZATION)
    assert ks.generation == 1


async def test_conflict_names_the_other_field_manager(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("charlie")
    await cluster.apply_environment(spec)
    ns = spec.names.namespace
    # Someone edits the interval with kubectl, taking ownership of the field.
    theirs = manifests.build(ResourceKind.GIT_REPOSITORY, spec)
    theirs["spec"] = {**theirs["spec"], "interval": "10m"}
    kube.apply(theirs, manager="kubectl-edit", force=True)

    with pytest.raises(Conflict) as caught:
        await cluster.apply_environment(spec)
    message = str(caught.value)
    assert '"kubectl-edit"' in message
    assert "GitRepository" in message and ".spec.interval" in message

    # Repair takes the field back.
    await cluster.apply_environment(spec, force=True)
    repo = kube.get("source.toolkit.fluxcd.io/v1", "GitRepository", "charlie-repo", ns)
    assert repo is not None and repo["spec"]["interval"] == "1m"


async def test_secret_conflict_does_not_leak_either_value(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("delta")
    await cluster.apply_environment(spec)
    theirs = manifests.build(ResourceKind.SECRET, spec)
    theirs["data"] = {"password": base64.b64encode(b"someone-elses-password").decode()}
    kube.apply(theirs, manager="rotator", force=True)

    with pytest.raises(Conflict) as caught:
        await cluster.apply_environment(spec)
    shown = f"{caught.value} {caught.value.to_dict()} {caught.value.__cause__!r}"
    assert '"rotator"' in shown and ".data.password" in shown
    for value in (GIT_TOKEN, "someone-elses-password"):
        assert value not in shown
        assert base64.b64encode(value.encode()).decode() not in shown


async def test_rbac_denied_names_user_verb_and_resource(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    kube.policy = AccessPolicy(
        {USER: [PolicyRule(resources=("namespaces", "serviceaccounts", "rolebindings"))]}
    )
    spec = make_spec("echo")
    with pytest.raises(ClusterError) as caught:
        await cluster.apply_environment(spec)
    error = caught.value
    assert f'user "{USER}" cannot patch secrets' in error.message
    assert 'namespace "project-echo-development"' in error.message
    assert error.hint is not None and "kubectl auth can-i patch secrets" in error.hint
    assert GIT_TOKEN not in str(error)


async def test_one_failing_environment_does_not_stop_the_others(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    # Everything is allowed except inside the staging namespace.
    allowed = ("project-foxtrot-development", "project-foxtrot-production")
    kube.policy = AccessPolicy(
        {
            USER: [
                PolicyRule(resources=("namespaces",)),
                PolicyRule(namespaces=allowed),
            ]
        }
    )
    results = await cluster.apply_environments([make_spec("foxtrot", env) for env in ENVS])

    assert results["development"].ok and results["production"].ok
    staging = results["staging"]
    assert not staging.ok
    by_kind = {o.ref.kind: o for o in staging.objects}
    assert by_kind[ResourceKind.NAMESPACE].ok
    failed = [o for o in staging.objects if not o.ok]
    assert {o.ref.kind for o in failed} == {i.kind for i in apply_order()} - {
        ResourceKind.NAMESPACE
    }
    assert all(isinstance(o.error, ClusterError) for o in failed)
    assert staging.error is not None and "forbidden" in staging.error.message
    assert kube.get(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "foxtrot-production",
        "project-foxtrot-production",
    )


async def test_a_failed_namespace_skips_the_rest_of_its_environment(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    may_read = PolicyRule(verbs=("get",), resources=("namespaces",))
    kube.policy = AccessPolicy({USER: [PolicyRule(resources=("secrets",)), may_read]})
    result = (await cluster.apply_environments([make_spec("golf")]))["development"]
    namespace, *rest = result.objects
    assert not namespace.ok and not namespace.skipped
    assert all(o.skipped and not o.ok for o in rest)
    assert result.error is namespace.error
    assert result.error is not None and "cannot patch namespaces" in result.error.message
