"""The emulator's authorizer chain: the configurable `AccessPolicy` for the users the
emulator was given tokens for, then RBAC over the stored objects for everyone (so an
impersonated user, a service account or a SubjectAccessReview's subject is judged by Roles
and bindings, as on a real cluster). Either may allow; neither ever denies explicitly."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.kube._rbac import WEBHOOK_RULES_ERROR, RulesReview
from slipway.sandbox.kube._rbac_authorizer import Decision, RbacAuthorizer, aggregate_errors
from slipway.sandbox.kube._rules import Attributes
from slipway.sandbox.kube._store import KubeState
from slipway.sandbox.kube._subject import Subject


def _review_rules(rules: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """PolicyRules split as a SelfSubjectRulesReview lists them (empty lists left out)."""
    resource_rules: list[dict[str, Any]] = []
    url_rules: list[dict[str, Any]] = []
    for rule in rules:
        if rule.get("resources"):
            entry = {k: list(rule.get(k) or []) for k in ("verbs", "apiGroups", "resources")}
            if rule.get("resourceNames"):
                entry["resourceNames"] = list(rule["resourceNames"])
            resource_rules.append(entry)
        if rule.get("nonResourceURLs"):
            url_rules.append(
                {"verbs": list(rule.get("verbs") or []), "nonResourceURLs": rule["nonResourceURLs"]}
            )
    return resource_rules, url_rules


class Authorizer:
    """`authorize(subject, attributes)` and `rules_for(subject, namespace)` for the routes,
    the impersonation filter and the access reviews alike."""

    def __init__(self, state: KubeState) -> None:
        self._state = state
        self.rbac = RbacAuthorizer(state)

    def _configured(self, name: str) -> bool:
        return name in self._state.tokens.values()

    def authorize(self, who: Subject, attrs: Attributes) -> Decision:
        policy = self._state.policy
        if self._configured(who.name):
            if not attrs.resource_request:
                return Decision(True, policy.reason(who.name))  # the policy covers resources
            resource = attrs.combined_resource
            namespace = attrs.namespace or None
            if policy.allows(who.name, attrs.verb, attrs.group, resource, namespace):
                return Decision(True, policy.reason(who.name))
        return self.rbac.authorize(who, attrs)

    def rules_for(self, who: Subject, namespace: str) -> RulesReview:
        """What the union authorizer lists: the policy's rules for a configured user (its
        cluster-wide ones first), then RBAC's; `incomplete` when a binding's role is missing
        or a webhook authorizer is in the chain."""
        policy = self._state.policy
        own = policy.rules_for(who.name, namespace) if self._configured(who.name) else None
        bound = self.rbac.rules_for(who, namespace)
        resource_rules, url_rules = _review_rules(bound.rules)
        errors = [f"RBAC: {aggregate_errors(bound.errors)}"] if bound.errors else []
        if own is not None:
            resource_rules = [*own.resource_rules, *resource_rules]
            url_rules = [*own.non_resource_rules, *url_rules]
        incomplete = bool(errors)
        if policy.webhook_authorizer:
            incomplete = True
            errors.append(WEBHOOK_RULES_ERROR)
        return RulesReview(resource_rules, url_rules, incomplete, ", ".join(errors))
