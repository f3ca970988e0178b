"""SelfSubjectAccessReview and SelfSubjectRulesReview: answer "may I?" and "what may I do in
this namespace?" from the emulator's access policy. Neither is stored, as on a real server."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.kube._resources import (
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
)
from slipway.sandbox.kube._status import Cause, bad_request, invalid
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


def rules_review(state: KubeState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    """The review as kube-apiserver answers it (`pkg/registry/authorization/
    selfsubjectrulesreview`): 400 without `spec.namespace`; the namespace need not exist; the
    status alone is filled in, so the answer's `spec` is empty."""
    namespace = (body.get("spec") or {}).get("namespace") or ""
    if not namespace:
        raise bad_request("no namespace on request")
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": SELF_SUBJECT_RULES_REVIEWS.api_version,
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": state.policy.rules_for(user, namespace).to_status(),
    }
