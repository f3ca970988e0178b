"""What a fresh emulated cluster contains: system namespaces, kube-apiserver's bootstrap RBAC
policy, the Flux CRDs and the Flux controllers (Deployments, service accounts and RBAC), each
Flux part switchable so tests can break one prerequisite at a time."""

from __future__ import annotations

import copy
from typing import Any, Literal

from slipway.sandbox.kube import _bootstrap
from slipway.sandbox.kube._aggregation import aggregate
from slipway.sandbox.kube._operations import Operations, now
from slipway.sandbox.kube._resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    CRDS,
    DEPLOYMENTS,
    NAMESPACES,
    SERVICEACCOUNTS,
    ResourceType,
    bundled_flux_crds,
)
from slipway.sandbox.kube._validation import WriteOptions

FluxControllers = Literal["available", "unavailable", "absent"]
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
FLUX_NAMESPACE = "flux-system"
FLUX_CONTROLLERS = ("source-controller", "kustomize-controller")
_SYSTEM = WriteOptions(manager="kube-apiserver")
_CRD_CONTROLLER = WriteOptions(manager="kube-apiserver")
_FLUX_INSTALL = WriteOptions(manager="flux")


def ensure_namespace(ops: Operations, name: str) -> None:
    if ops.state.get(NAMESPACES, "", name) is None:
        ops.create(NAMESPACES, None, {"metadata": {"name": name}}, _SYSTEM)


def set_flux_crds(ops: Operations, installed: bool) -> None:
    """Install the bundled Flux CRDs (served, with status) or remove them and their objects."""
    for crd in bundled_flux_crds():
        name = crd["metadata"]["name"]
        present = ops.state.get(CRDS, "", name) is not None
        if installed and not present:
            created = ops.create(CRDS, None, copy.deepcopy(crd), _SYSTEM)
            created["status"] = _crd_status(crd)
            ops.update(CRDS, None, name, created, _CRD_CONTROLLER, "status")
        elif not installed and present:
            ops.state.remove(CRDS, "", name)


def _crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    stamp = now()
    return {
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        "conditions": [
            _condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", stamp),
            _condition(
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
                stamp,
            ),
        ],
    }


def _condition(kind: str, status: str, reason: str, message: str, stamp: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp,
    }


def _deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": FLUX_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "flux"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "manager", "image": f"ghcr.io/fluxcd/{name}"}]},
            },
        },
    }


def _deployment_status(available: bool, generation: int) -> dict[str, Any]:
    stamp = now()
    if available:
        return {
            "observedGeneration": generation,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "conditions": [
                _condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    stamp,
                ),
                _condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    "ReplicaSet has successfully progressed.",
                    stamp,
                ),
            ],
        }
    return {
        "observedGeneration": generation,
        "replicas": 1,
        "updatedReplicas": 1,
        "unavailableReplicas": 1,
        "conditions": [
            _condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                stamp,
            ),
            _condition(
                "Progressing", "True", "ReplicaSetUpdated", "ReplicaSet is progressing.", stamp
            ),
        ],
    }


def _ensure(ops: Operations, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> None:
    """Create `obj` unless it exists (a later edit of it is kept, as on a real cluster)."""
    meta = obj["metadata"]
    if ops.state.get(rt, meta.get("namespace", ""), meta["name"]) is None:
        ops.create(rt, meta.get("namespace"), obj, opts)


def seed_bootstrap_policy(ops: Operations) -> None:
    """kube-apiserver's bootstrap ClusterRoles and ClusterRoleBindings, aggregated."""
    roles, bindings = _bootstrap.bootstrap_policy()
    for role in roles:
        _ensure(ops, CLUSTERROLES, role, _SYSTEM)
    for binding in bindings:
        _ensure(ops, CLUSTERROLEBINDINGS, binding, _SYSTEM)
    aggregate(ops.state)


def _seed_flux_rbac(ops: Operations) -> None:
    """The controllers' service accounts and RBAC, as `flux install` applies them."""
    roles, bindings = _bootstrap.flux_policy()
    for account in _bootstrap.flux_service_accounts():
        _ensure(ops, SERVICEACCOUNTS, account, _FLUX_INSTALL)
    for role in roles:
        _ensure(ops, CLUSTERROLES, role, _FLUX_INSTALL)
    for binding in bindings:
        _ensure(ops, CLUSTERROLEBINDINGS, binding, _FLUX_INSTALL)


def set_flux_controllers(ops: Operations, mode: FluxControllers) -> None:
    """Flux controllers in flux-system: available, present but unavailable, or absent
    (their service accounts and RBAC stay, as after scaling the Deployments away)."""
    if mode == "absent":
        for name in FLUX_CONTROLLERS:
            ops.state.remove(DEPLOYMENTS, FLUX_NAMESPACE, name)
        return
    ensure_namespace(ops, FLUX_NAMESPACE)
    _seed_flux_rbac(ops)
    with ops.state.lock:  # the deployment controller sees them only with their status
        _seed_flux_deployments(ops, mode)


def _seed_flux_deployments(ops: Operations, mode: FluxControllers) -> None:
    for name in FLUX_CONTROLLERS:
        current = ops.state.get(DEPLOYMENTS, FLUX_NAMESPACE, name)
        if current is None:
            current = ops.create(DEPLOYMENTS, FLUX_NAMESPACE, _deployment(name), _SYSTEM)
        current["status"] = _deployment_status(
            mode == "available", current["metadata"]["generation"]
        )
        ops.update(
            DEPLOYMENTS,
            FLUX_NAMESPACE,
            name,
            current,
            WriteOptions(manager="kube-controller-manager"),
            "status",
        )


def seed(ops: Operations, *, install_flux_crds: bool, flux_controllers: FluxControllers) -> None:
    for name in SYSTEM_NAMESPACES:
        ensure_namespace(ops, name)
    seed_bootstrap_policy(ops)
    set_flux_crds(ops, install_flux_crds)
    set_flux_controllers(ops, flux_controllers)
