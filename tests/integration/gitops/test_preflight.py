"""`run_preflight` against the emulator with one prerequisite broken at a time; how many
requests it takes, and `require_preflight`'s memory of a pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from slipway.domain.errors import CheckResult, PreflightFailed
from slipway.gitops import (
    KINDS,
    ClusterClient,
    FluxNotInstalled,
    forget_preflight,
    require_preflight,
    run_preflight,
)
from slipway.gitops.defaults import FLUX_CONTROLLERS
from slipway.gitops.kinds import apply_order, flux_kinds
from slipway.gitops.preflight import check_names
from slipway.sandbox.kube import AccessPolicy, KubeEmulator, PolicyRule

from ._support import USER, ASGIApp, Receive, Recorder, Scope, Send, client_through, make_spec

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
    assert "may not create, patch, delete, list, watch secrets" in secrets.detail
    assert secrets.fix is not None
    assert "--verb=create,patch,delete,list,watch --resource=secrets" in secrets.fix
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


async def test_following_the_cluster_needs_list_and_watch_on_every_kind(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    """The status sync (and finalize's wait) keeps one list+watch per kind Slipway applies
    across the cluster, so preflight asks for `list` and `watch` on each of them."""
    kube.policy = AccessPolicy({USER: [PolicyRule(verbs=("create", "patch", "get", "delete"))]})
    checks = _by_name(await run_preflight(cluster))
    failed = {name: c for name, c in checks.items() if not c.ok}
    assert set(failed) == {f"RBAC {info.qualified}" for info in apply_order()}
    for check in failed.values():
        assert "may not list, watch" in check.detail
        assert check.fix is not None and "--verb=list,watch" in check.fix


REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
ALL_VERBS = sum(len(info.verbs) for info in KINDS.values())


def _posts(recorder: Recorder, path: str) -> int:
    return sum(1 for s in recorder.seen if s.method == "POST" and s.path == path)


async def test_one_rules_review_answers_every_rbac_check(
    kube: KubeEmulator, recorder: Recorder, tmp_path: Path
) -> None:
    async with client_through(recorder, kube, tmp_path) as client:
        checks = await run_preflight(client)
    assert all(c.ok for c in checks)
    # /version, two CRDs, two controllers, and one review instead of one per verb and kind.
    assert recorder.verbs() == {"get": 5, "create": 1}
    assert _posts(recorder, REVIEWS) == 1
    assert _posts(recorder, ACCESS_REVIEWS) == 0


async def test_behind_a_webhook_only_what_the_review_cannot_show_is_asked(
    kube: KubeEmulator, recorder: Recorder, tmp_path: Path
) -> None:
    rules = [
        PolicyRule(
            verbs=("create", "patch", "get", "list", "watch"),
            resources=("secrets",),
            api_groups=("",),
        ),
        PolicyRule(resources=("namespaces", "serviceaccounts")),
        PolicyRule(api_groups=("rbac.authorization.k8s.io",)),
        PolicyRule(api_groups=("source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io")),
        PolicyRule(verbs=("get",), api_groups=("apiextensions.k8s.io", "apps")),
    ]
    kube.policy = AccessPolicy({USER: rules}, webhook_authorizer=True)
    async with client_through(recorder, kube, tmp_path) as client:
        checks = _by_name(await run_preflight(client))
    assert [name for name, c in checks.items() if not c.ok] == ["RBAC secrets"]
    assert "may not delete secrets" in checks["RBAC secrets"].detail
    # The listed rules hold even in an incomplete review: only `delete secrets` is asked.
    assert _posts(recorder, ACCESS_REVIEWS) == 1


class NoRulesReviews:
    """A server without SelfSubjectRulesReview (404), as an old or unusual API server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == REVIEWS:
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}'
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


async def test_without_rules_reviews_each_verb_is_asked(kube: KubeEmulator, tmp_path: Path) -> None:
    recorder = Recorder(NoRulesReviews(kube.app))
    async with client_through(recorder, kube, tmp_path) as client:
        checks = await run_preflight(client)
    assert all(c.ok for c in checks)
    assert _posts(recorder, ACCESS_REVIEWS) == ALL_VERBS


async def test_a_pass_is_remembered_per_cluster_for_a_while(
    kube: KubeEmulator, recorder: Recorder, tmp_path: Path
) -> None:
    async with client_through(recorder, kube, tmp_path) as client:
        await require_preflight(client)
        asked = len(recorder.seen)
        assert asked == 6
        await require_preflight(client)
        # Another client for the same cluster, context and user shares the pass.
        async with ClusterClient.from_kubeconfig(tmp_path / "kubeconfig") as same:
            await require_preflight(same)
        assert len(recorder.seen) == asked
        # Beyond its time to live, the cluster is asked again.
        await require_preflight(client, ttl=0)
        assert len(recorder.seen) == 2 * asked

        # A failure is never remembered, and the pass it follows no longer counts once
        # forgotten (what an expired pass means).
        forget_preflight(client.identity)
        kube.set_flux_crds(False)
        for _ in range(2):
            with pytest.raises(PreflightFailed):
                await require_preflight(client)
        kube.set_flux_crds(True)
        await require_preflight(client)


async def test_callers_arriving_together_share_one_run(
    kube: KubeEmulator, recorder: Recorder, tmp_path: Path
) -> None:
    async with client_through(recorder, kube, tmp_path) as client:
        await asyncio.gather(*(require_preflight(client) for _ in range(4)))
    assert len(recorder.seen) == 6


@pytest.fixture
def recorder(kube: KubeEmulator) -> Recorder:
    return Recorder(kube.app)
