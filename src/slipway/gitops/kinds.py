"""The one registry of the Kubernetes kinds Slipway manages: per kind its API group/version,
plural, scope, name, body builder, apply and delete rank, and what preflight checks for it.

Everything that lists kinds derives from `KINDS`: the apply and delete orders, the objects of
an environment, the preflight checks, the API versions recorded in the store and the lightkube
resource classes. Adding a kind is a `ResourceKind` member and a `ResourceNames` property
(`domain/names.py`) plus one `KindInfo` and its body builder here. Pure: no I/O.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from slipway.domain.names import ResourceKind, ResourceNames
from slipway.gitops.defaults import (
    FLUX_KUSTOMIZE_GROUP,
    FLUX_SOURCE_GROUP,
    FLUX_VERSION,
    RBAC_GROUP,
)
from slipway.gitops.results import ObjectRef
from slipway.gitops.spec import BasicAuth, EnvironmentSpec

Manifest = dict[str, Any]

# Apply is a PATCH that creates when absent, so both verbs are needed; delete for teardown;
# list and watch, cluster-wide, for the status sync (and finalize's wait) on every kind.
MANAGE: Final = ("create", "patch", "get", "delete", "list", "watch")


@dataclass(frozen=True, kw_only=True)
class KindInfo:
    """Everything Slipway knows about one kind. `body` gives the fields after `metadata`;
    `manifests.build` adds apiVersion, kind and metadata (name from `name`, labels)."""

    kind: ResourceKind
    group: str  # "" for the core API
    version: str
    plural: str
    namespaced: bool
    name: Callable[[ResourceNames], str]
    body: Callable[[EnvironmentSpec], Manifest]
    apply_rank: int  # lower first; cluster-scoped kinds go before the namespaced ones anyway
    delete_rank: int  # lower first
    verbs: tuple[str, ...] = MANAGE  # RBAC verbs preflight checks, cluster-wide
    flux_crd: bool = False  # served by a Flux CRD: its absence means Flux is not installed
    has_ready: bool = False  # a controller reports a Ready condition on it

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`plural.group`, as RBAC, CRD names and `kubectl auth can-i` name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def ref(self, names: ResourceNames) -> ObjectRef:
        return ObjectRef(self.kind, self.name(names), names.namespace if self.namespaced else None)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode("ascii")


def _no_body(spec: EnvironmentSpec) -> Manifest:
    return {}


def _git_secret(spec: EnvironmentSpec) -> Manifest:
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
        if creds.identity_pub:
            values["identity.pub"] = creds.identity_pub
    return {"type": "Opaque", "data": {key: _b64(value) for key, value in values.items()}}


def _role_binding(spec: EnvironmentSpec) -> Manifest:
    """Grants the reconciler its ClusterRole in this namespace only (a RoleBinding, not a
    ClusterRoleBinding), so a project's overlay cannot touch other namespaces."""
    return {
        "roleRef": {
            "apiGroup": RBAC_GROUP,
            "kind": "ClusterRole",
            "name": spec.reconciler_cluster_role,
        },
        "subjects": [
            {
                "kind": ResourceKind.SERVICE_ACCOUNT.value,
                "name": spec.names.service_account,
                "namespace": spec.names.namespace,
            }
        ],
    }


def _git_repository(spec: EnvironmentSpec) -> Manifest:
    return {
        "spec": {
            "interval": spec.source_interval,
            "url": spec.repository_url,
            "ref": {"branch": spec.branch},
            "secretRef": {"name": spec.names.git_secret},
        }
    }


def _kustomization(spec: EnvironmentSpec) -> Manifest:
    """Deploys `./k8s/overlays/<env>` into the environment's namespace, as its reconciler."""
    return {
        "spec": {
            "interval": spec.reconcile_interval,
            "timeout": spec.reconcile_timeout,
            "sourceRef": {
                "kind": ResourceKind.GIT_REPOSITORY.value,
                "name": spec.names.git_repository,
            },
            "path": spec.names.overlay_path,
            "prune": True,
            # Ready only once the applied workloads are healthy (Flux's health assessment,
            # bounded by `timeout`), so Ready means the environment serves, not just applied.
            "wait": True,
            "targetNamespace": spec.names.namespace,
            "serviceAccountName": spec.names.service_account,
        }
    }


_REGISTERED = (
    KindInfo(
        kind=ResourceKind.NAMESPACE,
        group="",
        version="v1",
        plural="namespaces",
        namespaced=False,
        name=lambda n: n.namespace,
        body=_no_body,
        apply_rank=10,
        delete_rank=60,  # last: deleting it deletes everything in it
    ),
    KindInfo(
        kind=ResourceKind.SECRET,
        group="",
        version="v1",
        plural="secrets",
        namespaced=True,
        name=lambda n: n.git_secret,
        body=_git_secret,
        apply_rank=20,
        delete_rank=30,
    ),
    KindInfo(
        kind=ResourceKind.SERVICE_ACCOUNT,  # the identity kustomize-controller impersonates
        group="",
        version="v1",
        plural="serviceaccounts",
        namespaced=True,
        name=lambda n: n.service_account,
        body=_no_body,
        apply_rank=30,
        delete_rank=50,
    ),
    KindInfo(
        kind=ResourceKind.ROLE_BINDING,
        group=RBAC_GROUP,
        version="v1",
        plural="rolebindings",
        namespaced=True,
        name=lambda n: n.role_binding,
        body=_role_binding,
        apply_rank=40,
        delete_rank=40,  # after the Kustomization: Flux prunes through the reconciler's RBAC
    ),
    KindInfo(
        kind=ResourceKind.GIT_REPOSITORY,
        group=FLUX_SOURCE_GROUP,
        version=FLUX_VERSION,
        plural="gitrepositories",
        namespaced=True,
        name=lambda n: n.git_repository,
        body=_git_repository,
        apply_rank=50,
        delete_rank=20,
        flux_crd=True,
        has_ready=True,
    ),
    KindInfo(
        kind=ResourceKind.KUSTOMIZATION,
        group=FLUX_KUSTOMIZE_GROUP,
        version=FLUX_VERSION,
        plural="kustomizations",
        namespaced=True,
        name=lambda n: n.kustomization,
        body=_kustomization,
        apply_rank=60,
        delete_rank=10,  # first, so Flux prunes what it deployed while its reconciler exists
        flux_crd=True,
        has_ready=True,
    ),
)

# Keyed by the wire kind; a `ResourceKind` member is equal (and hashes equal) to its string.
KINDS: dict[str, KindInfo] = {info.kind.value: info for info in _REGISTERED}


def kind_info(kind: ResourceKind | str) -> KindInfo:
    """The entry for a kind, given as the enum or its wire string (`"Kustomization"`)."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"{kind!r} is not a kind Slipway manages") from None


def apply_order() -> list[KindInfo]:
    return sorted(KINDS.values(), key=lambda info: info.apply_rank)


def delete_order() -> list[KindInfo]:
    return sorted(KINDS.values(), key=lambda info: info.delete_rank)


def flux_kinds() -> list[KindInfo]:
    """The kinds served by Flux CRDs, in apply order (preflight checks each CRD)."""
    return [info for info in apply_order() if info.flux_crd]


def environment_refs(names: ResourceNames) -> list[ObjectRef]:
    """(kind, name, namespace) of every object of one environment, in apply order."""
    return [info.ref(names) for info in apply_order()]
