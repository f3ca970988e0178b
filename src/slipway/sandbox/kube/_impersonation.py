"""The impersonation filter, as kube-apiserver's `filters/impersonation.go` runs it before
authorization: `Impersonate-User` (a `system:serviceaccount:<ns>:<name>` user is a service
account), repeatable `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-<key>`;
the authenticated user needs the `impersonate` verb on each (users, groups, serviceaccounts
in the account's namespace, uids, userextras/<key>), else 403 and nothing happens."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from starlette.datastructures import Headers

from slipway.sandbox.kube._authz import Authorizer
from slipway.sandbox.kube._rules import Attributes
from slipway.sandbox.kube._status import forbidden
from slipway.sandbox.kube._subject import (
    AUTHENTICATED,
    UNAUTHENTICATED,
    Subject,
    service_account_groups,
    service_account_user,
    split_service_account,
)

USER, GROUP, UID = "impersonate-user", "impersonate-group", "impersonate-uid"
EXTRA_PREFIX = "impersonate-extra-"
ANONYMOUS = "system:anonymous"
AUTHENTICATION = "authentication.k8s.io"


class ImpersonationMalformed(Exception):
    """Groups, extras or a uid without a user: the real server answers a plain-text 500."""


@dataclass(frozen=True)
class _Request:
    """One thing asked for, as the filter's ObjectReference: what it checks and shows."""

    kind: str
    name: str
    namespace: str = ""
    field: str = ""

    def attributes(self) -> Attributes:
        resource, group, sub = {
            "ServiceAccount": ("serviceaccounts", "", ""),
            "User": ("users", "", ""),
            "Group": ("groups", "", ""),
            "UID": ("uids", AUTHENTICATION, ""),
            "UserExtra": ("userextras", AUTHENTICATION, self.field),
        }[self.kind]
        return Attributes(
            "impersonate", group, resource, sub, name=self.name, namespace=self.namespace
        )

    def go_repr(self) -> str:
        """Go's `%v` of the v1.ObjectReference (kind, namespace, name, uid, apiVersion,
        resourceVersion, fieldPath)."""
        api_version = f"{AUTHENTICATION}/v1" if self.kind in ("UID", "UserExtra") else ""
        fields = (self.kind, self.namespace, self.name, "", api_version, "", self.field)
        return "{" + " ".join(fields) + "}"


def _requests(headers: Headers) -> list[_Request]:
    out: list[_Request] = []
    user = headers.get(USER, "")
    if user:
        sa = split_service_account(user)
        out.append(_Request("ServiceAccount", sa[1], sa[0]) if sa else _Request("User", user))
    others = [_Request("Group", g) for g in headers.getlist(GROUP)]
    for key, value in headers.items():
        if key.startswith(EXTRA_PREFIX):
            others.append(_Request("UserExtra", value, field=unquote(key[len(EXTRA_PREFIX) :])))
    uid = headers.get(UID, "")
    if uid:
        others.append(_Request("UID", uid))
    if others and not user:
        listed = " ".join(r.go_repr() for r in others)
        raise ImpersonationMalformed(f"requested [{listed}] without impersonating a user")
    return [*out, *others]


def impersonate(authorizer: Authorizer, requestor: Subject, headers: Headers) -> Subject:
    """The subject the request acts as: `requestor` itself without impersonation headers."""
    asked = _requests(headers)
    if not asked:
        return requestor
    name, uid = "", ""
    groups: list[str] = []
    for request in asked:
        attrs = request.attributes()
        decision = authorizer.authorize(requestor, attrs)
        if not decision.allowed:
            raise forbidden(requestor.name, attrs, decision.reason)
        if request.kind == "ServiceAccount":
            name = service_account_user(request.namespace, request.name)
        elif request.kind == "User":
            name = request.name
        elif request.kind == "Group":
            groups.append(request.name)
        elif request.kind == "UID":
            uid = request.name
    sa = split_service_account(name)
    if sa and not headers.getlist(GROUP):
        groups = list(service_account_groups(sa[0]))
    if name == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return Subject(name, tuple(groups), uid, impersonator=requestor.name)
