"""Cluster preflight for `slipway doctor` and the pipeline: is the API reachable, is Flux
installed and running, and may Slipway do what it needs to, cluster-wide?

Permissions come from one SelfSubjectRulesReview (the rules bound cluster-wide, see
`_rules.CLUSTER_WIDE`); what it cannot vouch for (it is `incomplete`, e.g. behind a webhook
authorizer, or unavailable) is asked with one SelfSubjectAccessReview per verb and kind.

Every failed check carries a `fix` a person can act on. When the API is unreachable, the
other checks say they were not run instead of each reporting its own misleading failure.

`require_preflight` remembers a pass per cluster identity (server, context, user) for
`PREFLIGHT_TTL` seconds, so the projects a long-lived worker creates do not ask again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

from slipway.domain.errors import CheckResult, PreflightFailed, SlipwayError
from slipway.domain.text import t
from slipway.gitops._errors import FLUX_FIX, ClusterIdentity
from slipway.gitops._rules import CLUSTER_WIDE, RulesReview
from slipway.gitops.cluster import ClusterClient
from slipway.gitops.defaults import FLUX_CONTROLLERS, FLUX_NAMESPACE
from slipway.gitops.kinds import KindInfo, apply_order, flux_kinds

API_CHECK: Final = "Kubernetes API"
# How long a pass is trusted: a cluster broken meanwhile shows at apply anyway, with the same
# errors and hints, one minute of projects later at most.
PREFLIGHT_TTL: Final = 60.0

_passed: dict[ClusterIdentity, float] = {}  # when each cluster last passed (time.monotonic)
_running: dict[ClusterIdentity, asyncio.Task[list[CheckResult]]] = {}


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
    """All cluster checks in `check_names` order, asked now (never from the cache); never
    raises for a failed check."""
    api = await check_api(client)
    if not api.ok:
        return [api, *(_not_run(name, API_CHECK) for name in check_names()[1:])]
    reads, rbac = await asyncio.gather(
        asyncio.gather(
            *(check_crd(client, info) for info in flux_kinds()),
            *(check_controller(client, name) for name in FLUX_CONTROLLERS),
        ),
        check_all_rbac(client),
    )
    return [api, *reads, *rbac]


async def require_preflight(
    client: ClusterClient, *, step: str | None = None, ttl: float = PREFLIGHT_TTL
) -> None:
    """Raises `PreflightFailed` (with every check, and the fixes as its hint) unless all pass.
    A pass is remembered for `ttl` seconds per cluster identity (a failure never is), and
    callers arriving while a run is under way share it."""
    checks = await remembered_preflight(client, ttl=ttl)
    if not all(c.ok for c in checks):
        raise PreflightFailed(checks, step=step)


async def remembered_preflight(
    client: ClusterClient, *, ttl: float = PREFLIGHT_TTL
) -> list[CheckResult]:
    """Every check, or none when a pass of this cluster is remembered from the last `ttl`
    seconds; callers arriving while a run is under way share it. Never raises for a check."""
    key = client.identity
    passed = _passed.get(key)
    if passed is not None and time.monotonic() - passed < ttl:
        return []
    running = _running.get(key)
    if running is None or running.get_loop() is not asyncio.get_running_loop():
        running = asyncio.ensure_future(_run_and_remember(client))
        _running[key] = running
        running.add_done_callback(_finished(key))
    return await asyncio.shield(running)  # a caller cancelled leaves the run to the others


async def _run_and_remember(client: ClusterClient) -> list[CheckResult]:
    started = time.monotonic()
    checks = await run_preflight(client)
    if all(c.ok for c in checks):
        _passed[client.identity] = started
    return checks


def _finished(key: ClusterIdentity) -> Callable[[asyncio.Task[list[CheckResult]]], None]:
    def forget(done: asyncio.Task[list[CheckResult]]) -> None:
        if _running.get(key) is done:
            del _running[key]
        if not done.cancelled():
            done.exception()  # retrieved here, raised to the callers still waiting

    return forget


def forget_preflight(identity: ClusterIdentity | None = None) -> None:
    """Drops remembered passes (of one cluster identity, or all), so the next
    `require_preflight` asks the cluster again."""
    if identity is None:
        _passed.clear()
    else:
        _passed.pop(identity, None)


def _not_run(name: str, because: str) -> CheckResult:
    return CheckResult(
        name=name,
        ok=False,
        detail=t("not checked: '{because}' failed first", because=because),
        ran=False,
    )


def _failed(name: str, error: SlipwayError, fix: str | None = None) -> CheckResult:
    return CheckResult(
        name=name, ok=False, detail=error.message, fix=fix or error.hint, transient=error.transient
    )


async def check_api(client: ClusterClient) -> CheckResult:
    try:
        version = await client.server_version()
    except SlipwayError as exc:
        return _failed(API_CHECK, exc)
    return CheckResult(
        API_CHECK,
        True,
        t("{server} answers, Kubernetes {version}", server=client.server, version=version),
    )


async def check_crd(client: ClusterClient, info: KindInfo) -> CheckResult:
    """The CRD serving `info` is installed and serves the version Slipway writes."""
    name = f"Flux CRD {info.qualified}"
    version = info.version
    try:
        found = await client.read_crd(info.qualified)
    except SlipwayError as exc:
        return _failed(name, exc)
    if found is None:
        return CheckResult(name, False, t("not installed: Flux is not installed"), fix=FLUX_FIX)
    versions = (found.get("spec") or {}).get("versions") or []
    served = [str(v.get("name")) for v in versions if v.get("served")]
    if version not in served:
        return CheckResult(
            name,
            False,
            t(
                "installed, but {version} is not served (served: {served})",
                version=version,
                served=", ".join(served) or "none",
            ),
            fix=t("upgrade Flux to v2.0 or later: `flux install` (or re-run `flux bootstrap`)"),
        )
    return CheckResult(name, True, t("installed, {version} served", version=version))


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
            t(
                "Deployment {flux_namespace}/{controller} not found",
                flux_namespace=FLUX_NAMESPACE,
                controller=controller,
            ),
            fix=FLUX_FIX,
        )
    ok, detail = _deployment_available(deployment)
    if ok:
        return CheckResult(
            name,
            True,
            t(
                "{flux_namespace}/{controller}: {detail}",
                flux_namespace=FLUX_NAMESPACE,
                controller=controller,
                detail=detail,
            ),
        )
    return CheckResult(
        name,
        False,
        t(
            "{flux_namespace}/{controller} is not available: {detail}",
            flux_namespace=FLUX_NAMESPACE,
            controller=controller,
            detail=detail,
        ),
        fix=(
            t(
                "look at `kubectl -n {flux_namespace} get pods` and `kubectl "
                "-n {flux_namespace} logs deploy/{controller}`; `flux check` "
                "lists what is wrong",
                flux_namespace=FLUX_NAMESPACE,
                controller=controller,
            )
        ),
    )


async def cluster_rules(client: ClusterClient) -> RulesReview | None:
    """The rules bound to Slipway's user cluster-wide, in one request; None when the server
    does not answer (the checks then ask verb by verb)."""
    try:
        return await client.rules_review(CLUSTER_WIDE)
    except SlipwayError:
        return None


async def check_all_rbac(client: ClusterClient) -> list[CheckResult]:
    """`check_rbac` for every registered kind, from one rules review."""
    rules = await cluster_rules(client)
    return list(await asyncio.gather(*(check_rbac(client, i, rules) for i in apply_order())))


async def check_rbac(
    client: ClusterClient, info: KindInfo, rules: RulesReview | None = None
) -> CheckResult:
    """The kind's verbs, cluster-wide (no namespace): Slipway creates namespaces, so it needs
    every namespace. A verb `rules` grants is granted; without `rules`, or when they are
    incomplete, the others are asked (SelfSubjectAccessReview)."""
    name = f"RBAC {info.qualified}"
    shown = [
        v for v in info.verbs if rules is not None and rules.allows(v, info.group, info.plural)
    ]
    unsure = [v for v in info.verbs if v not in shown]
    if rules is not None and not rules.incomplete:
        answers = [(False, "")] * len(unsure)
    else:
        try:
            answers = await asyncio.gather(
                *(client.can_i(verb, info.plural, group=info.group) for verb in unsure)
            )
        except SlipwayError as exc:
            return _failed(name, exc)
    denied = [verb for verb, (allowed, _) in zip(unsure, answers, strict=True) if not allowed]
    if not denied:
        return CheckResult(name, True, t("allowed: {verbs}", verbs=", ".join(info.verbs)))
    user = (
        t("kubeconfig user '{user}'", user=client.identity.user)
        if client.identity.user
        else "Slipway"
    )
    verbs = ",".join(denied)
    return CheckResult(
        name,
        False,
        t(
            "{user} may not {denied} {qualified}",
            user=user,
            denied=", ".join(denied),
            qualified=info.qualified,
        ),
        fix=(
            t(
                "grant them cluster-wide, e.g. `kubectl create clusterrole "
                "slipway-{plural} --verb={verbs} --resource={qualified}` and "
                "a ClusterRoleBinding to that user; verify with `kubectl "
                "auth can-i {denied} {qualified} --all-namespaces`",
                plural=info.plural,
                verbs=verbs,
                qualified=info.qualified,
                denied=denied[0],
            )
        ),
    )
