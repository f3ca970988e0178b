"""The Kubernetes objects of one environment, as plain dicts (flux2's `manifestgen`).

Pure functions of an `EnvironmentSpec`: no I/O, the same input always gives the same objects,
so they can be validated in unit tests, printed by `--dry-run` and server-side applied as-is.
Each kind's body comes from its `kinds.KINDS` entry; only the Secret holds a credential in
clear, and `render_yaml` redacts it by default.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import yaml

from slipway.domain.names import ResourceKind
from slipway.gitops.defaults import (
    LABEL_ENVIRONMENT,
    LABEL_INSTALLATION,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    MANAGED_BY,
    REDACTED,
)
from slipway.gitops.kinds import KindInfo, Manifest, apply_order, kind_info
from slipway.gitops.spec import EnvironmentSpec

__all__ = ["Manifest", "build", "environment_objects", "labels", "redact", "render_yaml"]


def labels(spec: EnvironmentSpec) -> dict[str, str]:
    """The labels every Slipway object carries, so `kubectl get -l` finds a project's objects."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PROJECT: spec.project,
        LABEL_ENVIRONMENT: spec.environment,
        LABEL_INSTALLATION: spec.installation,
    }


def build(kind: KindInfo | ResourceKind | str, spec: EnvironmentSpec) -> Manifest:
    """One object of the environment: the registry's header and name, Slipway's labels, and
    the kind's body."""
    info = kind if isinstance(kind, KindInfo) else kind_info(kind)
    meta: dict[str, Any] = {"name": info.name(spec.names)}
    if info.namespaced:
        meta["namespace"] = spec.names.namespace
    meta["labels"] = labels(spec)
    return {
        "apiVersion": info.api_version,
        "kind": str(info.kind),
        "metadata": meta,
        **info.body(spec),
    }


def environment_objects(spec: EnvironmentSpec) -> list[Manifest]:
    """All objects of one environment, in apply order."""
    return [build(info, spec) for info in apply_order()]


def redact(obj: Manifest) -> Manifest:
    """A copy with every Secret value replaced, for printing and logging."""
    if obj.get("kind") != ResourceKind.SECRET:
        return obj
    shown = copy.deepcopy(obj)
    for key in ("stringData", "data"):
        if isinstance(shown.get(key), dict):
            shown[key] = dict.fromkeys(shown[key], REDACTED)
    return shown


def render_yaml(objects: Iterable[Manifest], *, redact_secrets: bool = True) -> str:
    """A multi-document YAML stream, as `kubectl apply -f -` reads it (`--dry-run` output)."""
    shown = [redact(o) if redact_secrets else o for o in objects]
    return yaml.safe_dump_all(shown, sort_keys=False, default_flow_style=False)
