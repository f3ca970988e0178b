"""A configurable authorization policy standing in for RBAC.

`AccessPolicy()` allows everything; `AccessPolicy({"alice": [PolicyRule(...)]})` allows each
user only what one of their rules matches (a user without rules may do nothing). A rule with
`namespaces=None` stands for a ClusterRoleBinding, one with namespaces for RoleBindings there.

The policy is one authorizer in the emulator's chain (`_authz.Authorizer`): it speaks for the
users the emulator holds tokens for; RBAC over the stored objects speaks for everyone.
`rules_for` lists a user's policy rules in one namespace as a rule resolver does for a
SelfSubjectRulesReview: the cluster-wide ones, then those bound in that namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# `cluster-admin`, which the allow-all policy's users hold.
_ADMIN_RULES: Final = ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},)
_ADMIN_URLS: Final = ({"verbs": ["*"], "nonResourceURLs": ["*"]},)
# What kube-apiserver's union authorizer reports when a webhook is in the chain.
WEBHOOK_RULES_ERROR: Final = "webhook authorizer does not support user rule resolution"


@dataclass(frozen=True)
class PolicyRule:
    """Like an RBAC rule; `"*"` matches anything, `namespaces=None` every namespace and the
    cluster scope. Resources may name a subresource (`kustomizations/status`)."""

    verbs: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    api_groups: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] | None = None

    def matches(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return (
            _hit(self.verbs, verb)
            and _hit(self.api_groups, group)
            and _hit(self.resources, resource)
            and (
                self.namespaces is None
                or (namespace is not None and _hit(self.namespaces, namespace))
            )
        )

    def as_resource_rule(self) -> dict[str, Any]:
        """The rule as a SelfSubjectRulesReview lists it (`authorization.k8s.io/v1`)."""
        return {
            "verbs": list(self.verbs),
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
        }


def _hit(allowed: Sequence[str], value: str) -> bool:
    return "*" in allowed or value in allowed


@dataclass(frozen=True)
class RulesReview:
    """`SubjectRulesReviewStatus`: what a user may do in one namespace."""

    resource_rules: list[dict[str, Any]]
    non_resource_rules: list[dict[str, Any]]
    incomplete: bool = False
    evaluation_error: str = ""

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "resourceRules": self.resource_rules,
            "nonResourceRules": self.non_resource_rules,
            "incomplete": self.incomplete,
        }
        if self.evaluation_error:
            status["evaluationError"] = self.evaluation_error
        return status


class AccessPolicy:
    """Decides `(user, verb, group, resource, namespace)`; `rules=None` allows everyone.

    `webhook_authorizer=True` puts a webhook authorizer (as on EKS or AKS) in the chain: it
    decides nothing here, but it cannot list rules, so a SelfSubjectRulesReview says
    `incomplete` with the real server's `evaluationError`."""

    def __init__(
        self,
        rules: Mapping[str, Sequence[PolicyRule]] | None = None,
        *,
        webhook_authorizer: bool = False,
    ) -> None:
        self._rules = None if rules is None else {u: tuple(r) for u, r in rules.items()}
        self.webhook_authorizer = webhook_authorizer

    @classmethod
    def allow_all(cls) -> AccessPolicy:
        return cls(None)

    def allows(
        self, user: str, verb: str, group: str, resource: str, namespace: str | None
    ) -> bool:
        if self._rules is None:
            return True
        return any(r.matches(verb, group, resource, namespace) for r in self._rules.get(user, ()))

    def reason(self, user: str) -> str:
        """The SelfSubjectAccessReview `status.reason` for an allowed request."""
        if self._rules is None:
            return "allowed by the sandbox policy (allow all)"
        return f'allowed by the sandbox policy for User "{user}"'

    def rules_for(self, user: str, namespace: str) -> RulesReview:
        """The policy's rules for `user` in `namespace` (which need not exist): cluster-wide
        ones, then those for the namespace; `incomplete` when a webhook is in the chain."""
        if self._rules is None:
            granted, urls = list(_ADMIN_RULES), list(_ADMIN_URLS)
            local: list[dict[str, Any]] = []
        else:
            own = self._rules.get(user, ())
            granted = [r.as_resource_rule() for r in own if r.namespaces is None]
            local = [
                r.as_resource_rule()
                for r in own
                if r.namespaces is not None and _hit(r.namespaces, namespace)
            ]
            urls = []
        resource_rules = [*granted, *local]
        if self.webhook_authorizer:
            return RulesReview(resource_rules, urls, True, WEBHOOK_RULES_ERROR)
        return RulesReview(resource_rules, urls)
