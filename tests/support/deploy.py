"""`deploy/` as Kubernetes receives it: rendered by the virtualenv's kubectl (its embedded
kustomize v5), and the RBAC rules in it matched as kube-apiserver's RBAC authorizer does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tests.support.commands import kubectl

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def render(folder: Path = DEPLOY) -> list[dict[str, Any]]:
    """`kubectl kustomize deploy/`: every object it renders, in its order."""
    done = kubectl(None, "kustomize", str(folder))
    return [obj for obj in yaml.safe_load_all(done.stdout) if obj]


def find(objects: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one rendered object of `kind` called `name`."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} rendered"
    return found[0]


@dataclass(frozen=True)
class Permission:
    """One thing a request needs: a verb on a resource (with its subresource, as RBAC
    writes it: `kustomizations/status`) of a group, an object's name when the request names
    one, and where (`namespace` "" for the cluster scope or a cluster-wide collection);
    or a verb on a non-resource path (`/version`)."""

    verb: str
    group: str = ""
    resource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""


def allows(rule: dict[str, Any], need: Permission) -> bool:
    """`rbac/v1` RuleAllows: verbs, then apiGroups, resources and resourceNames (a rule
    with names never grants a request without one), or nonResourceURLs (a trailing `*`)."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and need.verb not in verbs:
        return False
    if need.path:
        return any(
            url == need.path or (url.endswith("*") and need.path.startswith(url[:-1]))
            for url in rule.get("nonResourceURLs") or []
        )
    groups, resources = rule.get("apiGroups") or [], rule.get("resources") or []
    names = rule.get("resourceNames") or []
    return (
        ("*" in groups or need.group in groups)
        and ("*" in resources or need.resource in resources)
        and (not names or need.name in names)
    )
