"""Label and field selectors (`labelSelector`, `fieldSelector` query parameters)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slipway.sandbox.kube._status import KubeApiError, bad_request

Predicate = Callable[[dict[str, Any]], bool]

_SET_EXPR = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_EXPR = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
FIELD_PATHS: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
}


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(selector):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return [p for p in parts if p.strip()]


def _requirement(expr: str) -> Predicate:
    eq = _EQ_EXPR.match(expr)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET_EXPR.match(expr)
    if not match:
        raise bad_request(f"unable to parse requirement: {expr.strip()!r}")
    negate, key, op, values = match.groups()
    if op:
        if negate:
            raise bad_request(f"unable to parse requirement: {expr.strip()!r}")
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    if negate:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def label_selector(selector: str | None) -> Predicate:
    """A predicate over objects for `=`, `==`, `!=`, `in`, `notin`, `key` and `!key`."""
    if not selector:
        return lambda obj: True
    requirements = [_requirement(part) for part in _split(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return matches


def field_selector(selector: str | None) -> Predicate:
    """`metadata.name` and `metadata.namespace` with `=`, `==`, `!=`."""
    if not selector:
        return lambda obj: True
    checks: list[Predicate] = []
    for part in _split(selector):
        eq = re.match(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not eq:
            raise bad_request(f"invalid selector: {part.strip()!r}; can't understand it")
        path, op, value = eq.groups()
        getter = FIELD_PATHS.get(path)
        if getter is None:
            raise KubeApiError(
                400,
                "BadRequest",
                f'"{path}" is not a known field selector: only "metadata.name", '
                '"metadata.namespace"',
            )
        checks.append(_field_check(getter, value, negate=op == "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(getter: Callable[[dict[str, Any]], str], value: str, *, negate: bool) -> Predicate:
    return lambda obj: (getter(obj) == value) != negate
