"""The RBAC authorizer over the stored Roles, ClusterRoles, RoleBindings and
ClusterRoleBindings, as kube-apiserver's `plugin/pkg/auth/authorizer/rbac` evaluates them:
ClusterRoleBindings first, then the RoleBindings of the request's namespace; a binding
applies when one of its subjects is the user, one of its groups, or its service account; a
RoleBinding's rules count only in its own namespace. A binding to a missing role is an
error that shows in the reason, not a failure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from slipway.sandbox.kube._resources import CLUSTERROLEBINDINGS, CLUSTERROLES, ROLEBINDINGS, ROLES
from slipway.sandbox.kube._rules import Attributes, rule_allows
from slipway.sandbox.kube._store import KubeState
from slipway.sandbox.kube._subject import Subject, split_service_account


@dataclass(frozen=True)
class Decision:
    """`allowed` and the authorizer's reason (`RBAC: allowed by ...`, or why rules were
    missing); a denial here is "no opinion", never an explicit deny."""

    allowed: bool
    reason: str = ""


@dataclass
class RbacRules:
    """The rules that apply to a subject in one namespace, and the lookup errors met."""

    rules: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _applies(subject_ref: dict[str, Any], who: Subject, namespace: str) -> bool:
    kind, name = subject_ref.get("kind"), subject_ref.get("name", "")
    if kind == "User":
        return bool(who.name == name)
    if kind == "Group":
        return name in who.groups
    if kind == "ServiceAccount":
        sa_namespace = subject_ref.get("namespace") or namespace
        return bool(sa_namespace) and split_service_account(who.name) == (sa_namespace, name)
    return False


def _describe_subject(subject_ref: dict[str, Any], namespace: str) -> str:
    kind, name = subject_ref.get("kind", ""), subject_ref.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject_ref.get("namespace") or namespace}"'
    return f'{kind} "{name}"'


class RbacAuthorizer:
    """Reads the RBAC objects from the store on every decision, so a binding written a moment
    ago counts at once (the real authorizer's informer lags by milliseconds)."""

    def __init__(self, state: KubeState) -> None:
        self._state = state

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        """The referenced role's rules; raises LookupError with the server's NotFound text."""
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            role = self._state.get(CLUSTERROLES, "", name)
            missing = f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif kind == "Role" and namespace:
            role = self._state.get(ROLES, namespace, name)
            missing = f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            raise LookupError(f'unsupported role reference kind: "{kind}"')
        if role is None:
            raise LookupError(missing)
        return list(role.get("rules") or [])

    def _visit(
        self, who: Subject, namespace: str, errors: list[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(source description, rule) for every rule bound to `who` that counts in
        `namespace` ("" for the cluster scope), in the authorizer's order."""
        with self._state.lock:
            cluster_bindings, _ = self._state.list(CLUSTERROLEBINDINGS)
            local_bindings = self._state.list(ROLEBINDINGS, namespace)[0] if namespace else []
        for binding in cluster_bindings:
            yield from self._binding_rules(binding, who, "", errors)
        for binding in local_bindings:
            yield from self._binding_rules(binding, who, namespace, errors)

    def _binding_rules(
        self, binding: dict[str, Any], who: Subject, namespace: str, errors: list[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        subject_ref = next(
            (s for s in binding.get("subjects") or [] if _applies(s, who, namespace)), None
        )
        if subject_ref is None:
            return
        ref = binding.get("roleRef") or {}
        try:
            rules = self._role_rules(ref, namespace)
        except LookupError as exc:
            errors.append(str(exc))
            return
        name = binding["metadata"]["name"]
        if namespace:
            source = f'RoleBinding "{name}/{namespace}"'
        else:
            source = f'ClusterRoleBinding "{name}"'
        described = (
            f'{source} of {ref.get("kind")} "{ref.get("name")}" to '
            f"{_describe_subject(subject_ref, namespace)}"
        )
        for rule in rules:
            yield described, rule

    def authorize(self, who: Subject, attrs: Attributes) -> Decision:
        errors: list[str] = []
        namespace = attrs.namespace if attrs.resource_request else ""
        for source, rule in self._visit(who, namespace, errors):
            if rule_allows(rule, attrs):
                return Decision(True, f"RBAC: allowed by {source}")
        reason = f"RBAC: {aggregate_errors(errors)}" if errors else ""
        return Decision(False, reason)

    def rules_for(self, who: Subject, namespace: str) -> RbacRules:
        found = RbacRules()
        for _, rule in self._visit(who, namespace, found.errors):
            found.rules.append(rule)
        return found


def aggregate_errors(errors: list[str]) -> str:
    """Go's `utilerrors.NewAggregate(...).Error()`: one message, or `[a, b]`."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
