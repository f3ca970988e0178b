"""The ClusterRole (and the Lease Role) in `deploy/` hold exactly what Slipway asks the cluster
for: a `slipway worker` (what the StatefulSet runs) and the CLI go through doctor, create, the
status sync following a change, `sync --once`, a credential rotation, repair and delete against
the sandbox while the Kubernetes emulator logs every request; each of Slipway's requests must
be allowed by the rendered rules, and every rule must be used by one of them, but for the
few listed in `UNREQUESTED` with the reason the log cannot show."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import httpx
from tests.support.cli import SlipwayProcesses, stop
from tests.support.deploy import Permission, allows, find, render
from tests.support.serve import SERVING, Lines, follow, stopped
from tests.support.waiting import wait_until

from slipway.config import Settings
from slipway.domain.names import ResourceNames
from slipway.sandbox.kube import KubeRequest
from slipway.sandbox.kube._emulator import DEFAULT_USER
from slipway.sandbox.runner import Sandbox

PROJECT = "rbac-evidence"
KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"
LEASE_NAMESPACE: Final = Settings.model_fields["lease_namespace"].default

# Granted though the log shows no request for it, each for a reason the emulator cannot show.
UNREQUESTED: Final = {
    # Preflight (`gitops.preflight.check_rbac`, `KindInfo.verbs`) requires create on every kind
    # it applies, since a server-side apply of an absent object creates it; the apply itself is
    # the PATCH the log shows.
    **{
        Permission("create", group, resource): "preflight requires it (KindInfo.verbs)"
        for group, resource in (
            ("", "namespaces"),
            ("", "secrets"),
            ("", "serviceaccounts"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("source.toolkit.fluxcd.io", "gitrepositories"),
            ("kustomize.toolkit.fluxcd.io", "kustomizations"),
        )
    },
    # kube-apiserver refuses a RoleBinding to a ClusterRole its creator does not hold in full
    # (RBAC's escalation check, which the emulator leaves out) unless the creator may `bind`
    # it: the reconcilers' RoleBindings name `admin` (gitops.defaults.RECONCILER_CLUSTER_ROLE).
    Permission("bind", "rbac.authorization.k8s.io", "clusterroles", "admin"): (
        "RBAC's escalation check on the reconcilers' RoleBindings"
    ),
    # Preflight asks verb by verb only when the rules review is incomplete (a webhook
    # authorizer in the chain, as on EKS and AKS); the sandbox's review is complete.
    Permission("create", "authorization.k8s.io", "selfsubjectaccessreviews"): (
        "preflight's fallback behind a webhook authorizer"
    ),
}


def _need(request: KubeRequest) -> Permission:
    """The permission RBAC checks for one logged request."""
    if not request.resource:
        return Permission(request.verb, path=request.path)
    resource = request.resource
    if request.subresource:
        resource = f"{resource}/{request.subresource}"
    # A namespace read by name is "in" itself for RequestInfo; RBAC sees the cluster scope.
    namespace = "" if request.resource == "namespaces" else request.namespace
    return Permission(request.verb, request.group, resource, request.name, namespace)


def _atoms(rules: Iterable[dict[str, Any]]) -> set[Permission]:
    """Every (verb, group, resource, name) or (verb, path) the rules name, one by one; a
    wildcard stays a wildcard."""
    granted: set[Permission] = set()
    for rule in rules:
        for verb in rule.get("verbs") or []:
            for url in rule.get("nonResourceURLs") or []:
                granted.add(Permission(verb, path=url))
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    for name in rule.get("resourceNames") or [""]:
                        granted.add(Permission(verb, group, resource, name))
    return granted


def _as_rule(atom: Permission) -> dict[str, Any]:
    if atom.path:
        return {"verbs": [atom.verb], "nonResourceURLs": [atom.path]}
    rule: dict[str, Any] = {
        "verbs": [atom.verb],
        "apiGroups": [atom.group],
        "resources": [atom.resource],
    }
    if atom.name:
        rule["resourceNames"] = [atom.name]
    return rule


def _wildcard(atom: Permission) -> bool:
    return "*" in (atom.verb, atom.group, atom.resource)


def _wildcard_rule(rule: dict[str, Any]) -> bool:
    return any("*" in (rule.get(key) or []) for key in ("verbs", "apiGroups", "resources"))


def _run_everything(run: SlipwayProcesses, sandbox: Sandbox) -> list[KubeRequest]:
    """doctor, create (by the worker), a change the worker's sync records, sync --once,
    rotate-credentials, repair and delete, with a `slipway worker` running throughout and
    stopped cleanly (it releases the sync's Lease) before the log is read."""
    assert sandbox.kube is not None
    names = ResourceNames(PROJECT, "dev")
    with sandbox.kube.recording() as log:
        worker = run.spawn("worker", env={"SLIPWAY_SYNC_LEASE_SECONDS": "4"})
        try:
            assert run("doctor").returncode == 0
            created = run("project", "create", PROJECT, "-t", "static-site", "--env", "dev")
            assert created.returncode == 0, created.stderr
            wait_until(
                lambda: _status(run) == "active", message="the worker to create it", timeout=120
            )
            sandbox.kube.delete(KUSTOMIZE, "Kustomization", names.kustomization, names.namespace)
            wait_until(
                lambda: "missing" in _resource_statuses(run),
                message="the worker's sync to record the Kustomization missing",
                timeout=60,
            )
            assert run("sync", "--once").returncode == 0
            for command in (("rotate-credentials",), ("repair", "--wait")):
                done = run("project", *command, PROJECT)
                assert done.returncode == 0, done.stderr
            assert _resource_statuses(run) == {"ready"}
            deleted = run("project", "delete", PROJECT, "--yes")
            assert deleted.returncode == 0, deleted.stderr
        finally:
            stop(worker)
    return log.requests(user=DEFAULT_USER)


def _status(run: SlipwayProcesses) -> str:
    return str(run.json("project", "show", PROJECT)["status"])


def _resource_statuses(run: SlipwayProcesses) -> set[str]:
    return {r["status"] for r in run.json("project", "show", PROJECT)["resources"]}


Scopes = dict[str, tuple[list[dict[str, Any]], str | None]]


def _scopes() -> Scopes:
    """Where each rendered rule counts: the ClusterRole everywhere, each Role in its own
    namespace."""
    objects = render()
    lease_role = find(objects, "Role", "slipway-sync-lease")
    assert lease_role["metadata"]["namespace"] == LEASE_NAMESPACE
    return {
        "ClusterRole slipway": (find(objects, "ClusterRole", "slipway")["rules"], None),
        f"Role {LEASE_NAMESPACE}/slipway-sync-lease": (lease_role["rules"], LEASE_NAMESPACE),
        "Role flux-system/slipway-flux-controllers": (
            find(objects, "Role", "slipway-flux-controllers")["rules"],
            "flux-system",
        ),
    }


def _granted_by(
    scopes: dict[str, tuple[list[dict[str, Any]], str | None]], need: Permission
) -> list[str]:
    return [
        scope
        for scope, (rules, namespace) in scopes.items()
        if namespace in (None, need.namespace) and any(allows(r, need) for r in rules)
    ]


def _denied(requests: Iterable[KubeRequest]) -> list[Permission]:
    scopes = _scopes()
    return sorted((n for n in {_need(r) for r in requests} if not _granted_by(scopes, n)), key=repr)


def test_the_cluster_role_holds_exactly_what_slipway_asks_for(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    requests = _run_everything(slipway_process, sandbox)
    denied = _denied(requests)
    assert not denied, f"the rendered RBAC does not allow: {denied}"

    # Nothing beyond: each permission a rule names is one a request needed, where that rule
    # counts and only there (a ClusterRole rule that only ever served kube-system's Lease
    # belongs in the Role); a wildcard is needed by a request nothing narrower allows.
    scopes = _scopes()
    needs = {_need(r) for r in requests}
    for scope, (rules, namespace) in scopes.items():
        for atom in _atoms(rules):
            if atom in UNREQUESTED:
                continue
            evidence = [
                n
                for n in needs
                if allows(_as_rule(atom), n)
                and (namespace == n.namespace if namespace else _granted_by(scopes, n) == [scope])
            ]
            if _wildcard(atom):
                narrower = [r for r in rules if not _wildcard_rule(r)]
                evidence = [n for n in evidence if not any(allows(r, n) for r in narrower)]
            assert evidence, f"{scope} grants {atom}, which Slipway never needed"
    # And the allow-list names only what the rules grant (it does not outlive a rule).
    granted = set().union(*(_atoms(rules) for rules, _ in scopes.values()))
    assert set(UNREQUESTED) <= granted, set(UNREQUESTED) - granted


def test_serve_asks_the_cluster_for_nothing_the_cluster_role_does_not_grant(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    """`slipway serve` (deploy/serve.yaml runs it under the same ServiceAccount) through the
    API: create, its stream, a change its sync records, repair and delete."""
    assert sandbox.kube is not None
    name = "rbac-serve"
    names = ResourceNames(name, "dev")
    token = slipway_process.json("user", "create", "rbac-ops", "--admin")["token"]
    with sandbox.kube.recording() as log:
        server = slipway_process.spawn(
            "serve", "--port", "0", env={"SLIPWAY_SYNC_LEASE_SECONDS": "4"}
        )
        try:
            url = Lines(server).until(SERVING).group(1)
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=auth, timeout=60.0) as http:
                connected = http.post(
                    "/api/v1/connections", json={"forge": "github", "token": sandbox.forge_token}
                )
                assert connected.status_code == 201, connected.text
                body = {"name": name, "template": "static-site", "environments": ["dev"]}
                created = http.post("/api/v1/projects", json=body)
                assert created.status_code == 201, created.text
                assert follow(http, name)[-1]["final"] == "completed"

                def resources() -> set[str]:
                    shown = http.get(f"/api/v1/projects/{name}").json()
                    return {r["status"] for r in shown["resources"]}

                sandbox.kube.delete(
                    KUSTOMIZE, "Kustomization", names.kustomization, names.namespace
                )
                wait_until(
                    lambda: "missing" in resources(),
                    message="serve's sync to record the Kustomization missing",
                    timeout=60,
                )
                assert http.post(f"/api/v1/projects/{name}/repair").status_code == 202
                assert follow(http, name)[-1]["final"] == "completed"
                assert resources() == {"ready"}
                assert http.delete(f"/api/v1/projects/{name}").status_code == 202
                wait_until(
                    lambda: http.get(f"/api/v1/projects/{name}").status_code == 404,
                    message="the delete run to remove the project",
                    timeout=120,
                )
            assert stopped(server) == 0
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(timeout=10)
    requests = log.requests(user=DEFAULT_USER)
    assert any(r.verb == "delete" for r in requests)  # the log holds serve's whole story
    denied = _denied(requests)
    assert not denied, f"the rendered RBAC does not allow what serve asked for: {denied}"
