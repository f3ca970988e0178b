"""`run_preflight` against the emulator with one prerequisite broken at a time."""

from __future__ import annotations

import pytest

from slipway.domain.errors import CheckResult, PreflightFailed
from slipway.gitops import (
    KINDS,
    ClusterClient,
    FluxNotInstalled,
    require_preflight,
    run_preflight,
)
from slipway.gitops.defaults import FLUX_CONTROLLERS
from slipway.gitops.kinds import flux_kinds
from slipway.gitops.preflight import check_names
from slipway.sandbox.kube import AccessPolicy, KubeEmulator, PolicyRule

from ._support import USER, make_spec

GITREPO_CRD = "Flux CRD gitrepositories.source.toolkit.fluxcd.io"
KS_CRD = "Flux CRD kustomizations.kustomize.toolkit.fluxcd.io"


def _by_name(checks: list[CheckResult]) -> dict[str, CheckResult]:
    return {c.name: c for c in checks}


async def test_healthy_cluster_passes_every_check(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    checks = await run_preflight(cluster)
    assert [c.name for c in checks if not c.ok] == []
    # The API, each Flux CRD, each controller, RBAC for each registered kind.
    assert [c.name for c in checks] == check_names()
    assert len(checks) == 1 + len(flux_kinds()) + len(FLUX_CONTROLLERS) + len(KINDS)
    assert cluster.server in checks[0].detail
    assert "Kubernetes v1." in checks[0].detail
    await require_preflight(cluster)


async def test_missing_flux_crds_fail_with_the_install_fix(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    kube.set_flux_crds(False)
    checks = _by_name(await run_preflight(cluster))
    for name in (GITREPO_CRD, KS_CRD):
        check = checks[name]
        assert not check.ok
        assert "Flux is not installed" in check.detail
        assert check.fix is not None and "flux install" in check.fix
    assert checks["Kubernetes API"].ok
    assert checks["RBAC namespaces"].ok

    with pytest.raises(PreflightFailed) as caught:
        await require_preflight(cluster, step="gitops_resources")
    assert caught.value.hint is not None and "flux install" in caught.value.hint

    # Applying without Flux stops at the first Flux kind with the same advice.
    with pytest.raises(FluxNotInstalled) as applied:
        await cluster.apply_environment(make_spec("hotel"))
    assert "Flux is not installed" in applied.value.message
    assert "gitrepositories.source.toolkit.fluxcd.io" in applied.value.message or (
        "kustomizations.kustomize.toolkit.fluxcd.io" in applied.value.message
    )
    assert applied.value.hint is not None and "flux install" in applied.value.hint
    assert "flux bootstrap" in applied.value.hint


async def test_unavailable_or_absent_controllers_fail(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    kube.set_flux_controllers("unavailable")
    checks = _by_name(await run_preflight(cluster))
    for name in ("Flux source-controller", "Flux kustomize-controller"):
        check = checks[name]
        assert not check.ok
        assert "not available" in check.detail
        assert check.fix is not None and "kubectl -n flux-system" in check.fix

    kube.set_flux_controllers("absent")
    checks = _by_name(await run_preflight(cluster))
    assert not checks["Flux source-controller"].ok
    assert "not found" in checks["Flux source-controller"].detail
    assert checks["Flux source-controller"].fix is not None
    assert checks[GITREPO_CRD].ok


async def test_rbac_denial_names_the_verbs_and_the_fix(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    kube.policy = AccessPolicy(
        {
            USER: [
                PolicyRule(verbs=("get",), resources=("secrets",), api_groups=("",)),
                PolicyRule(resources=("namespaces", "serviceaccounts")),
                PolicyRule(api_groups=("rbac.authorization.k8s.io",)),
                PolicyRule(api_groups=("source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io")),
                # Preflight itself reads CRDs and Deployments.
                PolicyRule(verbs=("get",), api_groups=("apiextensions.k8s.io", "apps")),
            ]
        }
    )
    checks = _by_name(await run_preflight(cluster))
    secrets = checks["RBAC secrets"]
    assert not secrets.ok
    assert "may not create, patch, delete secrets" in secrets.detail
    assert secrets.fix is not None
    assert "--verb=create,patch,delete --resource=secrets" in secrets.fix
    failed = [name for name, c in checks.items() if not c.ok]
    assert failed == ["RBAC secrets"]


async def test_forbidden_preflight_reads_say_what_is_missing(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    kube.policy = AccessPolicy({USER: [PolicyRule(verbs=("create",))]})
    checks = _by_name(await run_preflight(cluster))
    crd = checks[GITREPO_CRD]
    assert not crd.ok
    assert "cannot get customresourcedefinitions" in crd.detail
    assert crd.fix is not None and "kubectl auth can-i get" in crd.fix
    assert "cannot get deployments" in checks["Flux source-controller"].detail


async def test_waiting_on_flux_needs_watch_on_its_kinds(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    """Finalize waits on one list+watch per Flux kind across the cluster, so preflight asks for
    `list` and `watch` on exactly those."""
    kube.policy = AccessPolicy({USER: [PolicyRule(verbs=("create", "patch", "get", "delete"))]})
    checks = _by_name(await run_preflight(cluster))
    failed = {name: c for name, c in checks.items() if not c.ok}
    assert set(failed) == {f"RBAC {info.qualified}" for info in flux_kinds()}
    for check in failed.values():
        assert "may not list, watch" in check.detail
        assert check.fix is not None and "--verb=list,watch" in check.fix
