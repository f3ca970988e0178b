"""Cluster preflight for `slipway doctor` and the pipeline: is the API reachable, is Flux
installed and running, and may Slipway do what it needs to (SelfSubjectAccessReview)?

Every failed check carries a `fix` a person can act on. When the API is unreachable, the
other checks say they were not run instead of each reporting its own misleading failure.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from slipway.domain.errors import CheckResult, PreflightFailed, SlipwayError
from slipway.gitops._errors import FLUX_FIX
from slipway.gitops.cluster import ClusterClient
from slipway.gitops.defaults import FLUX_CONTROLLERS, FLUX_NAMESPACE
from slipway.gitops.kinds import KindInfo, apply_order, flux_kinds

API_CHECK: Final = "Kubernetes API"


def check_names() -> list[str]:
    """Every check `run_preflight` makes, in its order: the API, each Flux CRD, each Flux
    controller, then RBAC for each kind in the registry."""
    return [
        API_CHECK,
        *(f"Flux CRD {info.qualified}" for info in flux_kinds()),
        *(f"Flux {name}" for name in FLUX_CONTROLLERS),
        *(f"RBAC {info.qualified}" for info in apply_order()),
    ]


async def run_preflight(client: ClusterClient) -> list[CheckResult]:
    """All cluster checks in `check_names` order; never raises for a failed check."""
    api = await check_api(client)
    if not api.ok:
        return [api, *(_not_run(name, API_CHECK) for name in check_names()[1:])]
    results = await asyncio.gather(
        *(check_crd(client, info) for info in flux_kinds()),
        *(check_controller(client, name) for name in FLUX_CONTROLLERS),
        *(check_rbac(client, info) for info in apply_order()),
    )
    return [api, *results]


async def require_preflight(client: ClusterClient, *, step: str | None = None) -> None:
    """Raises `PreflightFailed` (with every check, and the fixes as its hint) unless all pass."""
    checks = await run_preflight(client)
    if not all(c.ok for c in checks):
        raise PreflightFailed(checks, step=step)


def _not_run(name: str, because: str) -> CheckResult:
    return CheckResult(name=name, ok=False, detail=f"not checked: '{because}' failed first")


def _failed(name: str, error: SlipwayError, fix: str | None = None) -> CheckResult:
    return CheckResult(name=name, ok=False, detail=error.message, fix=fix or error.hint)


async def check_api(client: ClusterClient) -> CheckResult:
    try:
        version = await client.server_version()
    except SlipwayError as exc:
        return _failed(API_CHECK, exc)
    return CheckResult(API_CHECK, True, f"{client.server} answers, Kubernetes {version}")


async def check_crd(client: ClusterClient, info: KindInfo) -> CheckResult:
    """The CRD serving `info` is installed and serves the version Slipway writes."""
    name = f"Flux CRD {info.qualified}"
    version = info.version
    try:
        found = await client.read_crd(info.qualified)
    except SlipwayError as exc:
        return _failed(name, exc)
    if found is None:
        return CheckResult(name, False, "not installed: Flux is not installed", fix=FLUX_FIX)
    versions = (found.get("spec") or {}).get("versions") or []
    served = [str(v.get("name")) for v in versions if v.get("served")]
    if version not in served:
        return CheckResult(
            name,
            False,
            f"installed, but {version} is not served (served: {', '.join(served) or 'none'})",
            fix="upgrade Flux to v2.0 or later: `flux install` (or re-run `flux bootstrap`)",
        )
    return CheckResult(name, True, f"installed, {version} served")


def _deployment_available(deployment: dict[str, Any]) -> tuple[bool, str]:
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    available = status.get("availableReplicas") or 0
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Available":
            ok = cond.get("status") == "True"
            why = cond.get("message") or cond.get("reason") or ""
            return ok or available >= 1, f"{available}/{wanted} replicas available" + (
                f" ({why})" if why and not ok else ""
            )
    return available >= 1, f"{available}/{wanted} replicas available"


async def check_controller(client: ClusterClient, controller: str) -> CheckResult:
    name = f"Flux {controller}"
    try:
        deployment = await client.read_deployment(FLUX_NAMESPACE, controller)
    except SlipwayError as exc:
        return _failed(name, exc)
    if deployment is None:
        return CheckResult(
            name,
            False,
            f"Deployment {FLUX_NAMESPACE}/{controller} not found",
            fix=FLUX_FIX,
        )
    ok, detail = _deployment_available(deployment)
    if ok:
        return CheckResult(name, True, f"{FLUX_NAMESPACE}/{controller}: {detail}")
    return CheckResult(
        name,
        False,
        f"{FLUX_NAMESPACE}/{controller} is not available: {detail}",
        fix=(
            f"look at `kubectl -n {FLUX_NAMESPACE} get pods` and "
            f"`kubectl -n {FLUX_NAMESPACE} logs deploy/{controller}`; `flux check` lists "
            "what is wrong"
        ),
    )


async def check_rbac(client: ClusterClient, info: KindInfo) -> CheckResult:
    """The kind's verbs, cluster-wide (no namespace): Slipway creates namespaces, so it needs
    every namespace."""
    name = f"RBAC {info.qualified}"
    try:
        answers = await asyncio.gather(
            *(client.can_i(verb, info.plural, group=info.group) for verb in info.verbs)
        )
    except SlipwayError as exc:
        return _failed(name, exc)
    denied = [verb for verb, (allowed, _) in zip(info.verbs, answers, strict=True) if not allowed]
    if not denied:
        return CheckResult(name, True, f"allowed: {', '.join(info.verbs)}")
    user = f"kubeconfig user '{client.identity.user}'" if client.identity.user else "Slipway"
    verbs = ",".join(denied)
    return CheckResult(
        name,
        False,
        f"{user} may not {', '.join(denied)} {info.qualified}",
        fix=(
            f"grant them cluster-wide, e.g. `kubectl create clusterrole slipway-{info.plural} "
            f"--verb={verbs} --resource={info.qualified}` and a ClusterRoleBinding to that user; "
            f"verify with `kubectl auth can-i {denied[0]} {info.qualified} --all-namespaces`"
        ),
    )
