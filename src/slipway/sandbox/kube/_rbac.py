"""A configurable authorization policy standing in for RBAC.

`AccessPolicy()` allows everything; `AccessPolicy({"alice": [PolicyRule(...)]})` allows each
user only what one of their rules matches (a user without rules may do nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


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


def _hit(allowed: Sequence[str], value: str) -> bool:
    return "*" in allowed or value in allowed


class AccessPolicy:
    """Decides `(user, verb, group, resource, namespace)`; `rules=None` allows everyone."""

    def __init__(self, rules: Mapping[str, Sequence[PolicyRule]] | None = None) -> None:
        self._rules = None if rules is None else {u: tuple(r) for u, r in rules.items()}

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
