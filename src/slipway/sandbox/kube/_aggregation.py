"""The clusterrole-aggregation controller: a ClusterRole with an `aggregationRule` gets, as
its `rules`, the union of the rules of every ClusterRole its `clusterRoleSelectors` match.
Run synchronously after each ClusterRole write, so a new `aggregate-to-*` role counts at once
(kube-controller-manager does it within a moment)."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.kube._resources import CLUSTERROLES
from slipway.sandbox.kube._selectors import label_selector
from slipway.sandbox.kube._store import KubeState

MANAGER = "clusterrole-aggregation-controller"
_MAX_PASSES = 8  # aggregated roles may feed each other (view -> edit -> admin)


def _selector(selector: dict[str, Any]) -> str:
    """A LabelSelector as selector text (matchLabels and the four expression operators)."""
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def _union(role: dict[str, Any], roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    rules: list[dict[str, Any]] = []
    name = role["metadata"]["name"]
    for selector in selectors:
        matches = label_selector(_selector(selector))  # empty: every ClusterRole
        for other in roles:
            if other["metadata"]["name"] == name or not matches(other):
                continue
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


def aggregate(state: KubeState) -> None:
    """Bring every aggregated ClusterRole's `rules` up to date (until nothing changes)."""
    with state.lock:
        for _ in range(_MAX_PASSES):
            roles, _ = state.list(CLUSTERROLES)
            changed = False
            for role in roles:
                if not role.get("aggregationRule"):
                    continue
                rules = _union(role, roles)
                if (role.get("rules") or []) != rules:
                    role["rules"] = rules
                    state.put(CLUSTERROLES, role, created=False)
                    changed = True
            if not changed:
                return
