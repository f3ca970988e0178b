"""The kinds the emulator serves: built-in types plus one per installed CustomResourceDefinition.

A `ResourceType` carries what routing, discovery, validation and apply need (like lightkube's
`ResourceDef`), so one generic set of handlers serves every kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource (`group/version/plural`) and its kind."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    has_generation: bool = False
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """`plural.group` as the server names a resource in messages (`secrets` for core)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects are stored once per group and plural, whatever the version."""
        return (self.group, self.plural)


def _rt(group: str, kind: str, plural: str, namespaced: bool, **kw: Any) -> ResourceType:
    version = kw.pop("version", "v1")
    return ResourceType(group, version, kind, plural, kind.lower(), namespaced, **kw)


NAMESPACES = _rt("", "Namespace", "namespaces", False, short_names=("ns",), status_subresource=True)
SECRETS = _rt("", "Secret", "secrets", True)
CONFIGMAPS = _rt("", "ConfigMap", "configmaps", True, short_names=("cm",))
# Services and Deployments are what the built-in templates deploy (the Flux emulator applies them).
SERVICES = _rt(
    "",
    "Service",
    "services",
    True,
    short_names=("svc",),
    categories=("all",),
    status_subresource=True,
)
SERVICEACCOUNTS = _rt("", "ServiceAccount", "serviceaccounts", True, short_names=("sa",))
RBAC = "rbac.authorization.k8s.io"
ROLES = _rt(RBAC, "Role", "roles", True)
ROLEBINDINGS = _rt(RBAC, "RoleBinding", "rolebindings", True)
CLUSTERROLES = _rt(RBAC, "ClusterRole", "clusterroles", False)
CLUSTERROLEBINDINGS = _rt(RBAC, "ClusterRoleBinding", "clusterrolebindings", False)
DEPLOYMENTS = _rt(
    "apps",
    "Deployment",
    "deployments",
    True,
    short_names=("deploy",),
    categories=("all",),
    status_subresource=True,
    has_generation=True,
)
# What controllers elect a leader with (client-go's leaderelection, kube-scheduler, Flux's
# controllers, Slipway's status sync): `kubectl get leases` shows the holder.
LEASES = _rt(
    "coordination.k8s.io",
    "Lease",
    "leases",
    True,
    printer_columns=(
        {"name": "Holder", "type": "string", "jsonPath": ".spec.holderIdentity"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ),
)
CRDS = _rt(
    "apiextensions.k8s.io",
    "CustomResourceDefinition",
    "customresourcedefinitions",
    False,
    short_names=("crd", "crds"),
    verbs=READ_VERBS,
    status_subresource=True,
    has_generation=True,
)
SELF_SUBJECT_ACCESS_REVIEWS = _rt(
    "authorization.k8s.io",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    False,
    verbs=("create",),
)
SELF_SUBJECT_RULES_REVIEWS = _rt(
    "authorization.k8s.io",
    "SelfSubjectRulesReview",
    "selfsubjectrulesreviews",
    False,
    verbs=("create",),
)
SUBJECT_ACCESS_REVIEWS = _rt(
    "authorization.k8s.io",
    "SubjectAccessReview",
    "subjectaccessreviews",
    False,
    verbs=("create",),
)
LOCAL_SUBJECT_ACCESS_REVIEWS = _rt(
    "authorization.k8s.io",
    "LocalSubjectAccessReview",
    "localsubjectaccessreviews",
    True,
    verbs=("create",),
)
REVIEWS = (
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
    LOCAL_SUBJECT_ACCESS_REVIEWS,
)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    NAMESPACES,
    SECRETS,
    CONFIGMAPS,
    SERVICES,
    SERVICEACCOUNTS,
    ROLES,
    ROLEBINDINGS,
    CLUSTERROLES,
    CLUSTERROLEBINDINGS,
    DEPLOYMENTS,
    LEASES,
    CRDS,
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
    LOCAL_SUBJECT_ACCESS_REVIEWS,
)


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition object, as resource types."""
    spec = crd["spec"]
    names = spec["names"]
    out: list[ResourceType] = []
    for version in spec["versions"]:
        if not version.get("served", False):
            continue
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                status_subresource="status" in version.get("subresources", {}),
                has_generation=True,
                schema=version.get("schema", {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns", ())),
            )
        )
    return out


def bundled_flux_crds() -> list[dict[str, Any]]:
    """The Flux CRDs shipped with the sandbox (reduced by scripts/reduce_crds.py)."""
    folder = resources.files("slipway.sandbox.kube") / "crds"
    crds: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            crds.append(json.loads(entry.read_text(encoding="utf-8")))
    return crds
