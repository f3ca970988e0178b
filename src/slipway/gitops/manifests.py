"""The Kubernetes objects of one environment, as plain dicts (flux2's `manifestgen`).

Pure functions of an `EnvironmentSpec`: no I/O, the same input always gives the same objects,
so they can be validated in unit tests, printed by `--dry-run` and server-side applied as-is.
Only `git_secret` holds a credential in clear; `render_yaml` redacts it by default.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable
from typing import Any

import yaml

from slipway.domain.model import ResourceKind
from slipway.gitops.defaults import (
    GIT_REPOSITORY_API_VERSION,
    KUSTOMIZATION_API_VERSION,
    LABEL_ENVIRONMENT,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    MANAGED_BY,
    RBAC_API_VERSION,
    RBAC_GROUP,
    REDACTED,
)
from slipway.gitops.spec import BasicAuth, EnvironmentSpec

Manifest = dict[str, Any]

# The order `environment_objects` returns, which is the order they can be applied in.
APPLY_ORDER: tuple[ResourceKind, ...] = (
    ResourceKind.NAMESPACE,
    ResourceKind.SECRET,
    ResourceKind.SERVICE_ACCOUNT,
    ResourceKind.ROLE_BINDING,
    ResourceKind.GIT_REPOSITORY,
    ResourceKind.KUSTOMIZATION,
)


def labels(spec: EnvironmentSpec) -> dict[str, str]:
    """The labels every Slipway object carries, so `kubectl get -l` finds a project's objects."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PROJECT: spec.project,
        LABEL_ENVIRONMENT: spec.environment,
    }


def _metadata(spec: EnvironmentSpec, name: str, *, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespaced:
        meta["namespace"] = spec.names.namespace
    meta["labels"] = labels(spec)
    return meta


def namespace(spec: EnvironmentSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _metadata(spec, spec.names.namespace, namespaced=False),
    }


def git_secret(spec: EnvironmentSpec) -> Manifest:
    """The credential source-controller clones with; the only object holding a secret.

    Values go in base64 `data`, not `stringData`: `stringData` is write-only and "does not
    work well with server-side apply" (Kubernetes docs): its keys are never removed from
    `data`, and field ownership (so conflict detection) is tracked on a field never stored.
    """
    creds = spec.credentials
    if isinstance(creds, BasicAuth):
        values = {"username": creds.username, "password": creds.password.get_secret_value()}
    else:
        values = {"identity": creds.identity.get_secret_value(), "known_hosts": creds.known_hosts}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(spec, spec.names.git_secret),
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in values.items()},
    }


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode("ascii")


def service_account(spec: EnvironmentSpec) -> Manifest:
    """The identity kustomize-controller impersonates for this environment (multi-tenancy)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(spec, spec.names.service_account),
    }


def role_binding(spec: EnvironmentSpec) -> Manifest:
    """Grants the reconciler its ClusterRole in this namespace only (a RoleBinding, not a
    ClusterRoleBinding), so a project's overlay cannot touch other namespaces."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": _metadata(spec, spec.names.role_binding),
        "roleRef": {
            "apiGroup": RBAC_GROUP,
            "kind": "ClusterRole",
            "name": spec.reconciler_cluster_role,
        },
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": spec.names.service_account,
                "namespace": spec.names.namespace,
            }
        ],
    }


def git_repository(spec: EnvironmentSpec) -> Manifest:
    return {
        "apiVersion": GIT_REPOSITORY_API_VERSION,
        "kind": "GitRepository",
        "metadata": _metadata(spec, spec.names.git_repository),
        "spec": {
            "interval": spec.source_interval,
            "url": spec.repository_url,
            "ref": {"branch": spec.branch},
            "secretRef": {"name": spec.names.git_secret},
        },
    }


def kustomization(spec: EnvironmentSpec) -> Manifest:
    """Deploys `./k8s/overlays/<env>` into the environment's namespace, as its reconciler."""
    return {
        "apiVersion": KUSTOMIZATION_API_VERSION,
        "kind": "Kustomization",
        "metadata": _metadata(spec, spec.names.kustomization),
        "spec": {
            "interval": spec.reconcile_interval,
            "timeout": spec.reconcile_timeout,
            "sourceRef": {"kind": "GitRepository", "name": spec.names.git_repository},
            "path": spec.names.overlay_path,
            "prune": True,
            "targetNamespace": spec.names.namespace,
            "serviceAccountName": spec.names.service_account,
        },
    }


def environment_objects(spec: EnvironmentSpec) -> list[Manifest]:
    """All objects of one environment in apply order (see `APPLY_ORDER`)."""
    return [
        namespace(spec),
        git_secret(spec),
        service_account(spec),
        role_binding(spec),
        git_repository(spec),
        kustomization(spec),
    ]


def redact(obj: Manifest) -> Manifest:
    """A copy with every Secret value replaced, for printing and logging."""
    if obj.get("kind") != "Secret":
        return obj
    shown = copy.deepcopy(obj)
    for key in ("stringData", "data"):
        if isinstance(shown.get(key), dict):
            shown[key] = dict.fromkeys(shown[key], REDACTED)
    return shown


def render_yaml(objects: Iterable[Manifest], *, redact_secrets: bool = True) -> str:
    """A multi-document YAML stream, as `kubectl apply -f -` reads it (`--dry-run` output)."""
    shown = [redact(o) if redact_secrets else o for o in objects]
    return yaml.safe_dump_all(shown, sort_keys=False, default_flow_style=False)
