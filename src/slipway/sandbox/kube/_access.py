"""SelfSubjectAccessReview: answer "may I?" from the emulator's access policy."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.kube._resources import SELF_SUBJECT_ACCESS_REVIEWS
from slipway.sandbox.kube._status import Cause, invalid
from slipway.sandbox.kube._store import KubeState


def review(state: KubeState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    """The review with `status.allowed` filled in (never stored, as on a real server)."""
    spec = body.get("spec") or {}
    attrs = spec.get("resourceAttributes")
    if attrs:
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource = f"{resource}/{attrs['subresource']}"
        allowed = state.policy.allows(
            user,
            attrs.get("verb", ""),
            attrs.get("group", ""),
            resource,
            attrs.get("namespace") or None,
        )
    elif spec.get("nonResourceAttributes"):
        allowed = True
    else:
        raise invalid(
            SELF_SUBJECT_ACCESS_REVIEWS,
            "",
            [
                Cause(
                    "FieldValueRequired",
                    "Required value: exactly one of nonResourceAttributes or resourceAttributes "
                    "must be specified",
                    "spec.resourceAttributes",
                )
            ],
        )
    status: dict[str, Any] = {"allowed": allowed}
    if allowed:
        status["reason"] = state.policy.reason(user)
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": SELF_SUBJECT_ACCESS_REVIEWS.api_version,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
