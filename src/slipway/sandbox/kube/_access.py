"""The access reviews, answered by the same authorizer chain that guards every request:
SelfSubjectAccessReview and SelfSubjectRulesReview for the requester (the impersonated
subject, when there is one), SubjectAccessReview (cluster-scoped) and
LocalSubjectAccessReview (namespaced) for the subject in their spec. None is stored, as on a
real server; each answers 201 with the review and its status."""

from __future__ import annotations

from typing import Any

from slipway.sandbox.kube._authz import Authorizer
from slipway.sandbox.kube._resources import (
    LOCAL_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_RULES_REVIEWS,
    SUBJECT_ACCESS_REVIEWS,
    ResourceType,
)
from slipway.sandbox.kube._rules import Attributes
from slipway.sandbox.kube._status import Cause, bad_request, invalid
from slipway.sandbox.kube._subject import Subject

_EXACTLY_ONE = (
    "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified"
)


def _go_value(value: Any) -> str:
    """A rough Go `%#v` of a spec field, for `Invalid value:` messages."""
    if isinstance(value, str):
        return f'"{value}"'
    return "{" + ", ".join(f"{k}:{_go_value(v)}" for k, v in dict(value).items()) + "}"


def _attributes(spec: dict[str, Any], rt: ResourceType, name: str) -> Attributes:
    """The request attributes a review asks about; 422 unless exactly one kind is given."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource and non_resource:
        message = (
            f"Invalid value: {_go_value(non_resource)}: cannot be specified in combination "
            "with resourceAttributes"
        )
        raise invalid(rt, name, [Cause("FieldValueInvalid", message, "spec.nonResourceAttributes")])
    if non_resource:
        return Attributes(
            verb=str(non_resource.get("verb") or ""),
            path=str(non_resource.get("path") or ""),
            resource_request=False,
        )
    if not resource:
        raise invalid(
            rt, name, [Cause("FieldValueRequired", _EXACTLY_ONE, "spec.resourceAttributes")]
        )
    return Attributes(
        verb=str(resource.get("verb") or ""),
        group=str(resource.get("group") or ""),
        resource=str(resource.get("resource") or ""),
        subresource=str(resource.get("subresource") or ""),
        name=str(resource.get("name") or ""),
        namespace=str(resource.get("namespace") or ""),
    )


def _answer(
    rt: ResourceType,
    body: dict[str, Any],
    spec: dict[str, Any],
    status: dict[str, Any],
    namespace: str = "",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    name = (body.get("metadata") or {}).get("name")
    if name:
        metadata["name"] = name
    if namespace:
        metadata["namespace"] = namespace
    return {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }


def _decide(authorizer: Authorizer, who: Subject, attrs: Attributes) -> dict[str, Any]:
    decision = authorizer.authorize(who, attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def self_review(authorizer: Authorizer, who: Subject, body: dict[str, Any]) -> dict[str, Any]:
    """SelfSubjectAccessReview: may the requester do this?"""
    spec = body.get("spec") or {}
    attrs = _attributes(spec, SELF_SUBJECT_ACCESS_REVIEWS, "")
    return _answer(SELF_SUBJECT_ACCESS_REVIEWS, body, spec, _decide(authorizer, who, attrs))


def subject_review(
    authorizer: Authorizer, body: dict[str, Any], namespace: str | None = None
) -> dict[str, Any]:
    """SubjectAccessReview (`namespace=None`) or LocalSubjectAccessReview in `namespace`:
    may `spec.user` with `spec.groups` do this? Validated as the API server does."""
    rt = SUBJECT_ACCESS_REVIEWS if namespace is None else LOCAL_SUBJECT_ACCESS_REVIEWS
    spec = body.get("spec") or {}
    if namespace is not None:
        meta_ns = (body.get("metadata") or {}).get("namespace") or namespace
        if meta_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        if spec.get("nonResourceAttributes"):
            value = _go_value(spec["nonResourceAttributes"])
            message = f"Invalid value: {value}: disallowed on this kind of request"
            raise invalid(
                rt, "", [Cause("FieldValueInvalid", message, "spec.nonResourceAttributes")]
            )
        asked = (spec.get("resourceAttributes") or {}).get("namespace") or ""
        if spec.get("resourceAttributes") and asked != namespace:
            message = f'Invalid value: "{asked}": must match metadata.namespace'
            field = "spec.resourceAttributes.namespace"
            raise invalid(rt, "", [Cause("FieldValueInvalid", message, field)])
    attrs = _attributes(spec, rt, "")
    user, groups = str(spec.get("user") or ""), [str(g) for g in spec.get("groups") or []]
    if not user and not groups:
        message = 'Invalid value: "": at least one of user or group must be specified'
        raise invalid(rt, "", [Cause("FieldValueInvalid", message, "spec.user")])
    who = Subject(user, tuple(groups), str(spec.get("uid") or ""))
    return _answer(rt, body, spec, _decide(authorizer, who, attrs), namespace or "")


def rules_review(authorizer: Authorizer, who: Subject, body: dict[str, Any]) -> dict[str, Any]:
    """SelfSubjectRulesReview as kube-apiserver answers it (`pkg/registry/authorization/
    selfsubjectrulesreview`): 400 without `spec.namespace`; the namespace need not exist; the
    status alone is filled in, so the answer's `spec` is empty."""
    namespace = (body.get("spec") or {}).get("namespace") or ""
    if not namespace:
        raise bad_request("no namespace on request")
    status = authorizer.rules_for(who, namespace).to_status()
    return _answer(SELF_SUBJECT_RULES_REVIEWS, {}, {}, status)
