"""Request attributes and RBAC rule matching, as the RBAC authorizer's `RuleAllows` does:
`*` wildcards, `resource/subresource` and `*/subresource`, resourceNames, and non-resource
URLs with a trailing `*`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attributes:
    """What is being asked: a resource request (verb, group, resource, subresource, name,
    namespace) or a non-resource one (verb and path)."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""
    resource_request: bool = True

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _strings(rule: Mapping[str, Any], key: str) -> list[str]:
    return [str(v) for v in rule.get(key) or []]


def _hit(allowed: list[str], value: str) -> bool:
    return "*" in allowed or value in allowed


def _resource_matches(rule: Mapping[str, Any], combined: str, subresource: str) -> bool:
    for resource in _strings(rule, "resources"):
        if resource in ("*", combined):
            return True
        if subresource and resource == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in _strings(rule, "nonResourceURLs"):
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attrs: Attributes) -> bool:
    """Whether one `rbac.authorization.k8s.io/v1` PolicyRule grants the request."""
    if not _hit(_strings(rule, "verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    names = _strings(rule, "resourceNames")
    return (
        _hit(_strings(rule, "apiGroups"), attrs.group)
        and _resource_matches(rule, attrs.combined_resource, attrs.subresource)
        and (not names or attrs.name in names)
    )
