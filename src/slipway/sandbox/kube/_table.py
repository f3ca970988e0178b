"""Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for with `kubectl get`.

Built-in kinds get the columns the real server prints; custom resources get their CRD's
`additionalPrinterColumns` (simple JSONPath, including `[?(@.type=="Ready")]` filters).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slipway.sandbox.kube._resources import ResourceType

Cell = Callable[[dict[str, Any]], Any]
_FILTER = re.compile(r'^\?\(@\.([A-Za-z0-9_]+)\s*==\s*["\']([^"\']*)["\']\)$')


def wants_table(accept: str) -> bool:
    return any("as=Table" in part for part in accept.split(","))


def human_age(timestamp: str | None) -> str:
    """kubectl's short duration: 45s, 3m12s, 45m, 5h12m, 30h, 5d3h, 12d."""
    if not timestamp:
        return "<unknown>"
    then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def jsonpath(obj: Any, path: str) -> Any:
    """A small JSONPath: `.a.b`, `.a[0]`, `.a[?(@.k=="v")].b`; None when absent."""
    tokens = re.findall(r"\.([A-Za-z0-9_\-]+)|\[([^\]]+)\]", path.strip())
    node = obj
    for field, bracket in tokens:
        if node is None:
            return None
        if field:
            node = node.get(field) if isinstance(node, dict) else None
            continue
        match = _FILTER.match(bracket)
        if match and isinstance(node, list):
            key, value = match.groups()
            node = next((i for i in node if isinstance(i, dict) and str(i.get(key)) == value), None)
        elif bracket.isdigit() and isinstance(node, list):
            index = int(bracket)
            node = node[index] if index < len(node) else None
        else:
            return None
    return node


def _meta(o: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = o.get("metadata", {})
    return meta


def _age(o: dict[str, Any]) -> str:
    return human_age(_meta(o).get("creationTimestamp"))


def _ready(o: dict[str, Any]) -> str:
    status = o.get("status", {})
    return f"{status.get('readyReplicas', 0)}/{o.get('spec', {}).get('replicas', 1)}"


BUILTIN_COLUMNS: dict[str, list[tuple[str, str, Cell]]] = {
    "Namespace": [("Status", "string", lambda o: o.get("status", {}).get("phase", ""))],
    "Secret": [
        ("Type", "string", lambda o: o.get("type", "Opaque")),
        ("Data", "string", lambda o: len(o.get("data") or {}) + len(o.get("stringData") or {})),
    ],
    "ConfigMap": [("Data", "string", lambda o: len(o.get("data") or {}))],
    "ServiceAccount": [("Secrets", "string", lambda o: len(o.get("secrets") or []))],
    "Deployment": [
        ("Ready", "string", _ready),
        ("Up-to-date", "string", lambda o: o.get("status", {}).get("updatedReplicas", 0)),
        ("Available", "string", lambda o: o.get("status", {}).get("availableReplicas", 0)),
    ],
}


def _columns(rt: ResourceType) -> list[tuple[str, str, Cell, int]]:
    if rt.printer_columns:
        out: list[tuple[str, str, Cell, int]] = []
        for col in rt.printer_columns:
            path, kind = col["jsonPath"], col.get("type", "string")

            def cell(o: dict[str, Any], path: str = path, kind: str = kind) -> Any:
                value = jsonpath(o, path)
                if kind == "date":
                    return human_age(value) if value else "<unknown>"
                return "" if value is None else value

            out.append(
                (col["name"], "string" if kind == "date" else kind, cell, col.get("priority", 0))
            )
        return out
    extra = [(n, t, c, 0) for n, t, c in BUILTIN_COLUMNS.get(rt.kind, [])]
    return [*extra, ("Age", "string", _age, 0)]


def as_table(
    rt: ResourceType, items: list[dict[str, Any]], *, single: bool, rv: int | None
) -> dict[str, Any]:
    columns = _columns(rt)
    definitions = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
    ] + [
        {"name": n, "type": t, "format": "", "description": n, "priority": p}
        for n, t, _, p in columns
    ]
    rows = [
        {
            "cells": [_meta(o).get("name", "")] + [c(o) for _, _, c, _ in columns],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": _meta(o),
            },
        }
        for o in items
    ]
    meta: dict[str, Any] = {}
    if not single and rv is not None:
        meta["resourceVersion"] = str(rv)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
