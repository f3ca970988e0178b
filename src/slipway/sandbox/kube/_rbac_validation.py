"""What kube-apiserver's `pkg/apis/rbac/validation` refuses in Roles, ClusterRoles and
bindings (422 Invalid): rules without verbs, resource rules without apiGroups or resources,
non-resource URLs in a Role or mixed with resources, a roleRef to the wrong kind or group or
without a name, subjects of an unknown kind, without a name, or (in a ClusterRoleBinding) a
service account without a namespace."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.kube._resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    RBAC,
    ROLEBINDINGS,
    ROLES,
    ResourceType,
)
from slipway.sandbox.kube._status import Cause

_SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _go_strings(values: list[Any]) -> str:
    return "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"


def _required(path: str, message: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {message}" if message else ""), path)


def _unsupported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    listed = ", ".join(f'"{s}"' for s in supported)
    return Cause(
        "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: {listed}', path
    )


def _rule_causes(rule: dict[str, Any], path: str, namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    if not rule.get("verbs"):
        causes.append(_required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        value = _go_strings(urls)
        if namespaced:
            message = f"Invalid value: {value}: namespaced rules cannot apply to non-resource URLs"
            causes.append(Cause("FieldValueInvalid", message, f"{path}.nonResourceURLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            message = (
                f"Invalid value: {value}: rules cannot apply to both regular resources and "
                "non-resource URLs"
            )
            causes.append(Cause("FieldValueInvalid", message, f"{path}.nonResourceURLs"))
        return causes
    if not rule.get("apiGroups"):
        message = "resource rules must supply at least one api group"
        causes.append(_required(f"{path}.apiGroups", message))
    if not rule.get("resources"):
        message = "resource rules must supply at least one resource"
        causes.append(_required(f"{path}.resources", message))
    return causes


def _binding_causes(obj: dict[str, Any], cluster: bool) -> list[Cause]:
    causes: list[Cause] = []
    ref = obj.get("roleRef") or {}
    if ref.get("apiGroup") != RBAC:
        causes.append(_unsupported("roleRef.apiGroup", ref.get("apiGroup", ""), (RBAC,)))
    kinds = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if ref.get("kind") not in kinds:
        causes.append(_unsupported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        causes.append(_required("roleRef.name"))
    for index, subject in enumerate(obj.get("subjects") or []):
        path = f"subjects[{index}]"
        kind = subject.get("kind", "")
        if not subject.get("name"):
            causes.append(_required(f"{path}.name"))
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.append(_unsupported(f"{path}.apiGroup", subject["apiGroup"], ("",)))
            if cluster and not subject.get("namespace"):
                causes.append(_required(f"{path}.namespace"))
        elif kind in ("User", "Group"):
            if subject.get("apiGroup") != RBAC:
                causes.append(
                    _unsupported(f"{path}.apiGroup", subject.get("apiGroup", ""), (RBAC,))
                )
        else:
            causes.append(_unsupported(f"{path}.kind", kind, _SUBJECT_KINDS))
    return causes


def validate(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    """The causes of a 422 for an RBAC object (none for other kinds)."""
    if rt in (ROLES, CLUSTERROLES):
        namespaced = rt == ROLES
        return [
            cause
            for index, rule in enumerate(obj.get("rules") or [])
            for cause in _rule_causes(rule, f"rules[{index}]", namespaced)
        ]
    if rt in (ROLEBINDINGS, CLUSTERROLEBINDINGS):
        return _binding_causes(obj, rt == CLUSTERROLEBINDINGS)
    return []


RBAC_TYPES = (ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS)


def name_causes(name: str) -> list[Cause]:
    """RBAC names are path segments (`system:basic-user` is fine): not `.` or `..`, no `/`
    or `%`."""
    if not name:
        return [_required("metadata.name", "name or generateName is required")]
    problems = [f"may not be '{name}'"] if name in (".", "..") else []
    problems += [f"may not contain '{c}'" for c in "/%" if c in name]
    return [
        Cause("FieldValueInvalid", f'Invalid value: "{name}": {p}', "metadata.name")
        for p in problems
    ]
