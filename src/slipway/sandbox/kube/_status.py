"""Kubernetes `Status` errors, worded like the real API server so clients parse them the same way.

Every handler raises `KubeApiError`; the routes turn it into a Status body served with
Content-Type exactly `application/json` (lightkube raises `ApiError` only then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slipway.sandbox.kube._resources import ResourceType
from slipway.sandbox.kube._rules import Attributes


@dataclass(frozen=True)
class Cause:
    """One `details.causes` entry: a machine reason, a message and the field path."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class KubeApiError(Exception):
    """A failed API call; `to_status()` is the body the real server would send."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            status["details"] = self.details
        status["code"] = self.code
        return status


def _details(rt: ResourceType | None, name: str, *, kind: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if rt is not None and rt.group:
        out["group"] = rt.group
    if rt is not None:
        out["kind"] = kind or rt.plural
    return out


def not_found(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def namespace_not_found(namespace: str) -> KubeApiError:
    return KubeApiError(
        404,
        "NotFound",
        f'namespaces "{namespace}" not found',
        {"name": namespace, "kind": "namespaces"},
    )


def already_exists(rt: ResourceType, name: str) -> KubeApiError:
    return KubeApiError(
        409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name)
    )


def update_conflict(rt: ResourceType, name: str) -> KubeApiError:
    message = (
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return KubeApiError(409, "Conflict", message, _details(rt, name))


def namespace_terminating(rt: ResourceType, name: str, namespace: str) -> KubeApiError:
    message = (
        f'{rt.qualified} "{name}" is forbidden: unable to create new content in namespace '
        f"{namespace} because it is being terminated"
    )
    return KubeApiError(403, "Forbidden", message, _details(rt, name))


def invalid(rt: ResourceType, name: str, causes: Sequence[Cause]) -> KubeApiError:
    """422 Invalid: `Kind.group "name" is invalid: field: Reason` (brackets when several)."""
    texts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = [c.to_dict() for c in causes]
    return KubeApiError(
        422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {joined}', details
    )


def bad_request(message: str) -> KubeApiError:
    return KubeApiError(400, "BadRequest", message)


def unauthorized() -> KubeApiError:
    return KubeApiError(401, "Unauthorized", "Unauthorized")


def forbidden(who: str, attrs: Attributes, reason: str = "") -> KubeApiError:
    """403 worded like kube-apiserver's `responsewriters.Forbidden`: `secrets "x" is
    forbidden: User "u" cannot get resource "secrets" in API group "" in the namespace
    "ns"`, the authorizer's reason appended after a colon when it gave one."""
    if not attrs.resource_request:
        text = f'User "{who}" cannot {attrs.verb} path "{attrs.path}"'
        return KubeApiError(
            403, "Forbidden", f"forbidden: {text}" + (f": {reason}" if reason else "")
        )
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    text = (
        f'User "{who}" cannot {attrs.verb} resource "{attrs.combined_resource}" '
        f'in API group "{attrs.group}" {where}'
    )
    if reason:
        text = f"{text}: {reason}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details: dict[str, Any] = {}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.group:
        details["group"] = attrs.group
    details["kind"] = attrs.resource
    return KubeApiError(403, "Forbidden", f"{subject} is forbidden: {text}", details)


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> KubeApiError:
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )
    del content_type
    return KubeApiError(415, "UnsupportedMediaType", message)


def method_not_allowed() -> KubeApiError:
    return KubeApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def path_not_found() -> KubeApiError:
    return KubeApiError(404, "NotFound", "the server could not find the requested resource")


def generate_name_conflict(rt: ResourceType) -> KubeApiError:
    """What `rest.CheckGeneratedNameError` answers when every generated name was taken: a
    500 ServerTimeout asking the client to retry."""
    message = (
        f"The POST operation against {rt.qualified_kind} could not be completed at this "
        "time, please try again."
    )
    details: dict[str, Any] = {"kind": rt.kind, "retryAfterSeconds": 0}
    if rt.group:
        details["group"] = rt.group
    return KubeApiError(500, "ServerTimeout", message, details)


def expired(requested: int, oldest: int) -> KubeApiError:
    return KubeApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def apply_conflicts(conflicts: Sequence[tuple[str, str]]) -> KubeApiError:
    """409 from server-side apply; `conflicts` is (manager description, field path) pairs."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": p}
        for m, p in conflicts
    ]
    if len(conflicts) == 1:
        body = f"conflict with {conflicts[0][0]}: {conflicts[0][1]}"
    else:
        by_manager: dict[str, list[str]] = {}
        for manager, path in conflicts:
            by_manager.setdefault(manager, []).append(path)
        lines: list[str] = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {p}" for p in by_manager[manager])
        body = "\n".join(lines)
    plural = "s" if len(conflicts) != 1 else ""
    message = f"Apply failed with {len(conflicts)} conflict{plural}: {body}"
    return KubeApiError(409, "Conflict", message, {"causes": causes})
